"""flowgen's runtime: the decider, worker and local runner every generated package carries.

Everything under this package uses only the standard library and boto3, because
it is copied verbatim into generated packages that run without flowgen.
"""
