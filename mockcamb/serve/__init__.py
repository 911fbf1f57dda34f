"""Serving the emulator over HTTP: the waitress and granian servers, the process supervision
of ``mockcamb serve --workers N``, and the ``serve`` command that puts them together."""
