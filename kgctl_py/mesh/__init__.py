"""The pure core: Kilo's domain, topology and renderers.

No I/O and no imports of ``kubernetes`` or ``click`` here, so that it is cheap
to import and easy to test with plain dicts.
"""
