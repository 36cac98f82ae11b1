"""flowgen's jinja2 templates, one per generated file (installed as flowgen.templates)."""
