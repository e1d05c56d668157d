"""The version of Hokusai's code: both distributions (``hokusai-sdk`` and ``hokusai-data-platform``) ship it.

They are released together from one repository, so one number serves both: the platform
pins the SDK at exactly this version, and documents record it (``software.hokusai``, the
pipeline's ``version``). ``hokusai`` is a namespace package shared by the two
distributions, so the number lives here rather than in a ``hokusai/__init__.py``.
"""

__version__ = "0.1.0"
