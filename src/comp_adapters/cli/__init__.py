"""The ``comp-adapters`` command line: parse arguments, call the library, render."""
