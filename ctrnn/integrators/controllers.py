"""Step-size control for the adaptive methods."""
from dataclasses import dataclass


@dataclass(frozen=True)
class PIController:
    """The PI step-size controller of Hairer's DOPRI5 code (Hairer, Norsett & Wanner,
    Solving ODEs I, section II.4): after an accepted step with error norm err (previous
    accepted err_old) the next step is
    h * clip(safety * err**-(1/k - 0.75 beta) * err_old**beta, min_factor, max_factor);
    after a rejection h * max(min_factor, safety * err**-(1/k - 0.75 beta)), and the step
    does not grow on the step after a rejection. k = error order + 1 of the pair (5 for
    dopri5, 3 for bs3). beta = 0 is the plain I controller
    (scipy's RK45 with its SAFETY = 0.9, MIN_FACTOR = 0.2, MAX_FACTOR = 10).

    Raises
    ------
    ValueError
        Unless 0 < safety <= 1, 0 < min_factor < 1 < max_factor and 0 <= beta < 0.2.
    """

    safety: float = 0.9
    min_factor: float = 0.2
    max_factor: float = 10.0
    beta: float = 0.04

    def __post_init__(self):
        if not (0 < self.safety <= 1 and 0 < self.min_factor < 1 < self.max_factor
                and 0 <= self.beta < 0.2):
            raise ValueError(f"PIController: invalid constants {self}")

    def as_tuple(self):
        """The constants as the kernels take them.

        Returns
        -------
        tuple of float
            (safety, min_factor, max_factor, beta), dimensionless.
        """
        return (self.safety, self.min_factor, self.max_factor, self.beta)
