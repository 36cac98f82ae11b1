"""flowgen: compile workflow specs into typed Amazon SWF packages."""

__version__ = "0.1.0"
