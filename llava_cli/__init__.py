"""llava-cli: label images and video frames with a LLaVA vision-language model."""

__version__ = "0.1.0"
