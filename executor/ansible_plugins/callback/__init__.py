"""Callback plugins: the console (``lockgate_console``) and the JSON task record (``lockgate_json``)."""
