"""The only place with ctypes: thin wrappers around system calls the standard
library of Python 3.11 lacks. Each raises OSError with errno and context and
retries on EINTR. Standard library only; imported lazily by the runtime."""
