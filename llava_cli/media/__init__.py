"""The media layer: finding inputs, decoding images, sampling video frames by presentation time,
decode worker threads and near-duplicate frames. Knows nothing of models or commands."""
