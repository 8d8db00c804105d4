"""Rules shared by every layer: ball parsing, argument checks, the call plan, the method
registry, the JIT options and thread control.  Imports nothing else of the package."""
