"""The built-in status page (``/ui``): server-rendered HTML and inline SVG charts."""
