"""chat: one-shot answers, the scripted REPL, history through the template, transcripts, Ctrl-C."""

from __future__ import annotations

import copy
import json
import os
import signal

import pytest
import torch
from typer.testing import CliRunner

from factories import make_image, make_video
from llava_cli.chat import session as chat_mod
from llava_cli.chat.session import ChatSession
from llava_cli.errors import InputError, UsageError
from llava_cli.media.video import frame_at, load_image
from llava_cli.model.prompts import render, user_message

MAX_NEW = 16


def plain_generate(loaded, image, question: str, max_new_tokens: int = MAX_NEW) -> str:
    """The answer straight from model.generate, without llava_cli's generation helpers."""
    processor = loaded.processor
    text = processor.apply_chat_template([user_message(question)], add_generation_prompt=True, tokenize=False)
    inputs = processor(images=[image], text=[text], return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1]:]
    return loaded.tokenizer.decode(new, skip_special_tokens=True).strip()


def model_flags(tiny_model_dir) -> list[str]:
    return ["-m", tiny_model_dir, "--device", "cpu", "--dtype", "float32", "--max-new-tokens", str(MAX_NEW)]


def test_one_shot_prints_what_generate_returns(cli_app, tiny_model_dir, tiny_loaded, tmp_path):
    img = make_image(tmp_path / "photo.png", seed=0)
    question = "What is the player doing?"
    expected = plain_generate(tiny_loaded, load_image(img), question)
    assert expected  # the tiny model says something for this image

    result = CliRunner().invoke(cli_app, ["chat", str(img), "-p", question, *model_flags(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout == expected + "\n"

    piped = CliRunner().invoke(cli_app, ["chat", str(img), "-p", "-", *model_flags(tiny_model_dir)], input=question + "\n")
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == expected + "\n"


@pytest.fixture
def recorded(monkeypatch, tiny_loaded):
    """Every generate_answer call the session makes: messages, rendered prompt, image, answer."""
    calls = []
    real = chat_mod.generate_answer

    def recorder(loaded, messages, image, **kwargs):
        answer = real(loaded, messages, image, **kwargs)
        calls.append(
            {
                "messages": copy.deepcopy(messages),
                "prompt": render(loaded.processor, messages, add_generation_prompt=True),
                "image": image,
                "answer": answer,
            }
        )
        return answer

    monkeypatch.setattr(chat_mod, "generate_answer", recorder)
    monkeypatch.setattr(chat_mod, "load_model", lambda cfg: tiny_loaded)
    return calls


def texts(messages):
    return [(m["role"], [p.get("text", "<image>") for p in m["content"]]) for m in messages]


def test_scripted_session_history_clear_image_save(cli_app, recorded, tmp_path):
    first = make_image(tmp_path / "first.png", seed=1)
    second = make_image(tmp_path / "second.png", seed=2, size=(40, 48))
    script = "\n".join(
        [
            "What is shown?",
            "And the colours?",
            "/clear",
            "Describe it.",
            f"/image {tmp_path / 'missing.png'}",
            "Still there?",
            f"/image {second}",
            "What now?",
            f"/save {tmp_path / 'talk.json'}",
            f"/save {tmp_path / 'talk.md'}",
            "/quit",
            "never asked",
        ]
    ) + "\n"
    result = CliRunner().invoke(cli_app, ["chat", str(first), "--max-new-tokens", "8"], input=script)
    assert result.exit_code == 0, result.output
    answers = [c["answer"] for c in recorded]
    assert len(recorded) == 5

    # turn 1: the image and the question; turn 2 sees turn 1's answer, without a second image
    assert texts(recorded[0]["messages"]) == [("user", ["<image>", "What is shown?"])]
    assert recorded[0]["prompt"] == "USER: <image>\nWhat is shown? ASSISTANT:"
    assert texts(recorded[1]["messages"]) == [
        ("user", ["<image>", "What is shown?"]),
        ("assistant", [answers[0]]),
        ("user", ["And the colours?"]),
    ]
    # llava-1.5-7b-hf's own template renders a past answer with a trailing space and no </s>
    assert recorded[1]["prompt"] == f"USER: <image>\nWhat is shown? ASSISTANT: {answers[0]} USER: And the colours? ASSISTANT:"
    # /clear: history gone, same image
    assert texts(recorded[2]["messages"]) == [("user", ["<image>", "Describe it."])]
    assert recorded[2]["image"].tobytes() == load_image(first).tobytes()
    # a bad /image prints one error line and keeps image and history
    assert "error:" in result.stderr and "missing.png: file not found" in result.stderr
    assert "Traceback" not in result.output
    assert texts(recorded[3]["messages"]) == [
        ("user", ["<image>", "Describe it."]),
        ("assistant", [answers[2]]),
        ("user", ["Still there?"]),
    ]
    assert recorded[3]["image"].tobytes() == load_image(first).tobytes()
    # /image: a new conversation about the new image
    assert texts(recorded[4]["messages"]) == [("user", ["<image>", "What now?"])]
    assert recorded[4]["image"].tobytes() == load_image(second).tobytes()
    # answers stream to stdout, one line each; nothing after /quit
    assert result.stdout == "".join(a + "\n" for a in answers)

    saved = json.loads((tmp_path / "talk.json").read_text(encoding="utf-8"))
    assert saved["image"] == str(second)
    assert saved["messages"] == [{"role": "user", "text": "What now?"}, {"role": "assistant", "text": answers[4]}]
    markdown = (tmp_path / "talk.md").read_text(encoding="utf-8")
    assert f"# Chat about {second}" in markdown
    assert "**User:** What now?" in markdown and f"**Assistant:** {answers[4]}" in markdown


def test_repl_help_unknown_and_bad_save_keep_going(cli_app, recorded, tmp_path):
    img = make_image(tmp_path / "a.png")
    script = f"/help\n/nope\n/save {tmp_path / 'x.txt'}\n/image\nHello\n"
    result = CliRunner().invoke(cli_app, ["chat", str(img), "--max-new-tokens", "4"], input=script)
    assert result.exit_code == 0, result.output
    assert "/image PATH" in result.stderr
    assert "unknown command /nope" in result.stderr
    assert "use a .json or .md" in result.stderr
    assert "/image needs a path" in result.stderr
    assert len(recorded) == 1  # the session survived to answer "Hello"


def test_missing_or_broken_image_is_one_line(cli_app, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    for path, message in ((tmp_path / "nope.jpg", "file not found"), (broken, "not a readable image")):
        result = CliRunner().invoke(cli_app, ["chat", str(path), "-p", "hi", "-m", "/nonexistent/model"])
        assert result.exit_code == 1
        assert result.stderr.strip().count("\n") == 0 and message in result.stderr
        assert "Traceback" not in result.output


def test_bad_flags_are_listed(cli_app, tmp_path):
    img = make_image(tmp_path / "a.png")
    result = CliRunner().invoke(cli_app, ["chat", str(img), "--temperature", "-1", "--max-new-tokens", "0", "--at", "-3"])
    assert result.exit_code == 2
    for flag in ("--temperature", "--max-new-tokens", "--at"):
        assert flag in result.stderr


def test_session_api_system_stream_and_clear(tiny_loaded, tmp_path):
    img = make_image(tmp_path / "a.png", seed=3)
    session = ChatSession(tiny_loaded, str(img), system="Be brief.", max_new_tokens=MAX_NEW)
    assert session.rendered_prompt("Hi").startswith("Be brief. USER: <image>\nHi")
    pieces = []
    answer = session.ask("Hi", stream=pieces.append)
    assert "".join(pieces) == answer
    assert [m["role"] for m in session.messages] == ["system", "user", "assistant"]
    session.clear()
    assert [m["role"] for m in session.messages] == ["system"]
    with pytest.raises(UsageError):
        session.save(tmp_path / "t.txt")
    with pytest.raises(UsageError):
        session.ask("   ")


def test_set_image_failure_keeps_state(tiny_loaded, tmp_path):
    img = make_image(tmp_path / "a.png")
    session = ChatSession(tiny_loaded, str(img), max_new_tokens=4)
    session.ask("Hi")
    before = copy.deepcopy(session.messages)
    with pytest.raises(InputError):
        session.set_image(tmp_path / "gone.png")
    assert session.messages == before and session.image.source == str(img)


def test_ctrl_c_stops_the_answer_not_the_session(tiny_loaded, tmp_path):
    img = make_image(tmp_path / "a.png", seed=0)
    full = ChatSession(tiny_loaded, str(img), max_new_tokens=24).ask("What is the player doing?")
    session = ChatSession(tiny_loaded, str(img), max_new_tokens=24)

    def press_ctrl_c(piece: str) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    stopped = session.ask("What is the player doing?", stream=press_ctrl_c)
    assert session.stopped
    assert len(stopped) < len(full) and full.startswith(stopped)
    assert session.messages[-1]["content"][0]["text"] == stopped
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    again = session.ask("And now?")  # the session goes on
    assert not session.stopped and isinstance(again, str)


def test_video_frame_at(tiny_loaded, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=30, fps=10.0)
    assert frame_at(clip).index == 15
    frame = frame_at(clip, 2.0)
    assert (frame.index, frame.timestamp_s) == (20, 2.0)
    with pytest.raises(InputError, match="past the end"):
        frame_at(clip, 9.0)
    session = ChatSession(tiny_loaded, str(clip), at=1.0, max_new_tokens=4)
    assert (session.image.frame, session.image.timestamp_s) == (10, 1.0)
    session.set_image(str(clip))  # the session's --at applies to later videos too
    assert session.image.frame == 10


def test_streamed_pieces_join_to_the_answer_across_byte_fallback_runs(tiny_loaded):
    """SentencePiece byte fallback decodes a run of <0xNN> pieces as one UTF-8 sequence: an ASCII
    byte shown early would become U+FFFD once an invalid continuation byte follows."""
    from llava_cli.model.generation import AnswerStreamer, decode_answer

    tok = tiny_loaded.tokenizer
    ids = tok.convert_tokens_to_ids(["▁lo", "<0x34>", "<0xE2>", "<0x82>", "<0xAC>", "<0x34>", "<0xE2>", "▁dog"])
    pieces: list[str] = []
    streamer = AnswerStreamer(tok, pieces.append)
    streamer.put(torch.tensor([[0]]))  # generate passes the prompt first
    for token in ids:
        streamer.put(torch.tensor([token]))
    streamer.end()
    assert "".join(pieces) == decode_answer(tok, ids)
