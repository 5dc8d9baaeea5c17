"""The chat templates that the published llava-hf checkpoints ship, verbatim.

These are data, not behaviour: llava-cli always renders prompts with the template the loaded
checkpoint carries (`processor.chat_template`). They live here for two users: `finetune compose`,
which gives a freshly composed LLaVA-1.5 the template of llava-hf/llava-1.5-7b-hf, and the test
suite's tiny checkpoints, which must carry exactly what real checkpoints carry (a home-made
template once hid that the real llava-1.5 template renders answers differently).

Where each one comes from (each checkpoint's `chat_template.json`; the quoted sources hold the
same string):
- LLAVA_VICUNA: llava-hf/llava-1.5-7b-hf, llava-1.5-13b-hf, llava-v1.6-vicuna-7b/13b-hf; also in
  transformers' tests/models/llava/test_processing_llava.py and in openvino.genai's tokenizer
  fallback table ("llava-1.5, llava-v1.6-vicuna (chat_template.json)"). Renders an assistant
  turn as "ASSISTANT: {answer} ": a trailing space, no end-of-turn token.
- LLAVA_MISTRAL: llava-hf/llava-v1.6-mistral-7b-hf (openvino.genai's table: "llava-v1.6-mistral
  (chat_template.json)"). It writes the literal text `<\\s>` after an answer, not the `</s>` token.
- LLAVA_CHATML_YI: llava-hf/llava-v1.6-34b-hf (Nous-Hermes-2-Yi-34B's chatml). The same string,
  up to spaces inside `{{ }}`, is `chat_yi` in transformers'
  models/llava_next_video/convert_llava_next_video_weights_to_hf.py (the llava-hf 34B video
  checkpoints' template) and in the llava-hf maintainers' script that set the llava-hf templates,
  whose model2template maps "llava-hf/llava-v1.6-34b-hf" to it.
- LLAVA_LLAMA3: llava-hf/llama3-llava-next-8b-hf; the image without a newline, then "\\n" + text +
  `<|eot_id|>`, so an assistant turn renders as "...<|end_header_id|>\\n\\n\\n{answer}<|eot_id|>".
- LLAVA_ONEVISION_QWEN2: llava-hf/llava-onevision-qwen2-*-hf, the `chat_template` string of
  transformers' models/llava_onevision/convert_llava_onevision_weights_to_hf.py.
"""

from __future__ import annotations

LLAVA_VICUNA = (
    "{% for message in messages %}"
    "{% if message['role'] != 'system' %}"
    "{{ message['role'].upper() + ': '}}"
    "{% endif %}"
    "{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}"
    "{% endfor %}"
    "{# Render all text next #}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}"
    "{% endfor %}"
    "{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}"
    "{% endfor %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

LLAVA_MISTRAL = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{{ '<<SYS>>\n' + message['content'][0]['text'] + '\n<</SYS>>\n\n' }}"
    "{% elif message['role'] == 'user' %}"
    "{{ '[INST] ' }}"
    "{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}"
    "{% endfor %}"
    "{# Render all text next #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] }}"
    "{% endfor %}"
    "{{' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ ' ' + message['content'][0]['text'] + '<\\\\s> '}}"
    "{% else %}"
    "{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}"
    "{% endfor %}"
)

LLAVA_CHATML_YI = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}"
    "{% endfor %}"
    "{# Render all text next #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] }}"
    "{% endfor %}"
    "{{ '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

LLAVA_LLAMA3 = (
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'}}"
    "{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>' }}"
    "{% endfor %}"
    "{# Render all text next #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ '\n' + content['text'] + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

LLAVA_ONEVISION_QWEN2 = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n'}}"
    "{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}"
    "{% endfor %}"
    "{# Render all video then #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\n' }}"
    "{% endfor %}"
    "{# Render all text next #}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] }}"
    "{% endfor %}"
    "{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] }}{% endgeneration %}"
    "{% endfor %}"
    "{% endif %}"
    "{{'<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# LLaVA-1.5's own system prompt (conv_vicuna_v1 in haotian-liu/LLaVA llava/conversation.py),
# which the paper's evaluations put before every question.
LLAVA15_SYSTEM_PROMPT = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
