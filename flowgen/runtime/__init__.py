"""flowgen's runtime: the decider, worker and local runner every generated package carries.

Everything under this package uses only the standard library and boto3, because
it is copied verbatim into generated packages that run without flowgen.
"""

# flowgen's version, kept here so that every package's engine/ says which engine it carries.
__version__ = "0.3.1"
