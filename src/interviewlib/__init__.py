"""interviewlib: from-scratch implementations behind the ML & LLM interview handbook.

Each subpackage mirrors a chapter of the book (``linalg`` for chapter 1, ...). The
modules are small, documented and tested against numpy/scipy/scikit-learn/PyTorch.
"""

__version__ = "0.1.0"
