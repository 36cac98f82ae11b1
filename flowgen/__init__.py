"""flowgen: compile workflow specs into typed Amazon SWF packages."""

# One version for flowgen and the engine it copies into packages (defined in flowgen/runtime).
from flowgen.runtime import __version__

__all__ = ["__version__"]
