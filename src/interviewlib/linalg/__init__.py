"""Linear algebra from scratch (chapter 1): rank, matrix exponential, ...

Each helper module re-exports its public names here, one import line per module.
"""

from .eig import eigh, power_iteration, rayleigh_quotient_iteration  # noqa: F401
from .expm import THETA, expm, expm_eig, expm_params, expm_taylor, pade_coefficients  # noqa: F401
from .lstsq import lstsq, ridge  # noqa: F401
from .normest import onenormest  # noqa: F401
from .qr import householder_qr  # noqa: F401
from .rank import default_tol, rank, rank_exact, row_echelon  # noqa: F401
from .svd import low_rank_approx, pinv, svd  # noqa: F401
