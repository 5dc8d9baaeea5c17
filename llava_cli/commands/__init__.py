"""The command modules: each `*_cmd.py` turns flags into a config and calls a Python API.

`llava_cli.cli` imports them and calls each module's `register(app)`; they import only
`options` (shared flags) and `_errors` (the error table) from here, never the app.
"""
