"""What a search campaign is asked to do (Optuna's `Study` with `directions`): objectives, each a
column to maximise or minimise, and constraints on columns. One objective is the m = 1 case of
the same `Problem`, not another code path; `Truth` is what a table says the answer is.

Outcomes are vectors over `Problem.columns` (the objectives, then any other column a constraint
reads), in the columns' own units. Columns an architecture determines exactly (params, FLOPs) are
`exact_columns`: they need no model, and a constraint on one filters the candidates before
anything is asked.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from surrogate.errors import UsageError
from surrogate.search import pareto


@dataclass(frozen=True)
class Objective:
    """A column to maximise or minimise."""

    name: str
    maximize: bool

    @property
    def sign(self) -> float:
        return 1.0 if self.maximize else -1.0

    def __str__(self) -> str:
        return f"{self.name}:{'max' if self.maximize else 'min'}"


def parse_objectives(spec: str | Sequence[str]) -> tuple[Objective, ...]:
    """`"valid_acc:max,params:min"` (or a list of such items) -> objectives, in order."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    if not any(str(item).strip() for item in items):
        raise UsageError("no objective given: write e.g. --objectives valid_acc:max,params:min")
    objectives = []
    for item in items:
        name, _, direction = (part.strip() for part in str(item).rpartition(":"))
        if not name or direction not in ("max", "min"):
            raise UsageError(f"malformed objective {str(item).strip()!r}: write COL:max or COL:min")
        objectives.append(Objective(name, direction == "max"))
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise UsageError(f"an objective is named twice: {','.join(names)}")
    return tuple(objectives)


def metric_objective(metric: str, directions: dict[str, str] | None = None) -> Objective:
    """`--metric COL[:max|:min]` as an objective: without a direction, the one `directions` records
    for COL (a generated table's, or a live record's), else max."""
    name, sep, direction = (part.strip() for part in str(metric).rpartition(":"))
    if not (sep and direction in ("max", "min")):
        name, direction = str(metric).strip(), (directions or {}).get(str(metric).strip(), "max")
    return parse_objectives([f"{name}:{direction}"])[0]


def check_directions(objectives: Sequence[Objective], directions: dict[str, str] | None) -> None:
    """UsageError for an objective asked against the direction its column records (bits per
    character maximised, say)."""
    for o in objectives:
        recorded = (directions or {}).get(o.name)
        if recorded is not None and recorded != ("max" if o.maximize else "min"):
            raise UsageError(f"{o}: {o.name} is recorded as a metric to {recorded}imise (write {o.name}:{recorded}, "
                             f"or --metric {o.name})")


_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_CONSTRAINT = re.compile(r"^\s*([^<>=\s]+)\s*(<=|>=|<|>)\s*([^<>=\s]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """`name op bound`, e.g. `params<=1e6`; feasible where the comparison holds."""

    name: str
    op: str
    bound: float

    def __str__(self) -> str:
        bound = repr(self.bound)  # the shortest text that parses back to the same float
        return f"{self.name}{self.op}{bound[:-2] if bound.endswith('.0') else bound}"

    def satisfied(self, values: np.ndarray) -> np.ndarray:
        """Exact feasibility (NaN is infeasible)."""
        values = np.asarray(values, dtype=np.float64)
        return _OPS[self.op](values, self.bound) & ~np.isnan(values)

    def slack(self, values):
        """BoTorch's constraint convention: <= 0 where feasible (works on arrays and tensors)."""
        return values - self.bound if self.op in ("<=", "<") else self.bound - values


def parse_constraint(text: str) -> Constraint:
    """`"params<=5e5"`, `"latency_ms < 3"`, `"valid_acc>=70"` -> Constraint."""
    match = _CONSTRAINT.match(str(text))
    if not match:
        raise UsageError(f"malformed constraint {text!r}: write COL<=V, COL>=V, COL<V or COL>V")
    name, op, bound = match.groups()
    try:
        value = float(bound)
    except ValueError:
        raise UsageError(f"malformed constraint {text!r}: {bound!r} is not a number") from None
    if not np.isfinite(value):
        raise UsageError(f"constraint {text!r}: the bound must be finite")
    return Constraint(name, op, value)


def parse_ref_point(text: str | Sequence[float] | None) -> tuple[float, ...] | None:
    """`auto` (or None) -> None; `"0.8,1e6"` or a sequence -> floats."""
    if text is None or (isinstance(text, str) and text.strip() == "auto"):
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        values = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise UsageError(f"malformed --ref-point {text!r}: write auto or one number per objective, "
                         "e.g. 70,2e6") from None
    if not all(np.isfinite(values)):
        raise UsageError(f"--ref-point {text!r}: values must be finite")
    return values


# --- the problem ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """Objectives, constraints, and the columns an architecture determines exactly.

    `exact(archs)` returns the `exact_columns` of each architecture, (n, len(exact_columns));
    `ref_point` (objective units) fixes the hypervolume reference, else it is inferred.
    """

    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()
    exact_columns: tuple[str, ...] = ()
    exact: Callable[[np.ndarray], np.ndarray] | None = None
    ref_point: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.objectives:
            raise UsageError("a problem needs at least one objective")
        if self.exact_columns and self.exact is None:
            raise UsageError("exact columns need the function that computes them")
        if self.ref_point is not None and len(self.ref_point) != len(self.objectives):
            raise UsageError(f"--ref-point needs {len(self.objectives)} values, one per objective, "
                             f"got {len(self.ref_point)}")
        if self.ref_point is not None and len(self.objectives) == 1:
            raise UsageError("--ref-point needs two or more objectives")

    @classmethod
    def parse(cls, objectives: str | Sequence[str], constraints: Sequence[str] = (), **kwargs) -> "Problem":
        parsed = tuple(parse_constraint(c) for c in constraints)
        return cls(parse_objectives(objectives), parsed, **kwargs)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([o.name for o in self.objectives] + [c.name for c in self.constraints]))

    @property
    def m(self) -> int:
        return len(self.objectives)

    @property
    def plain(self) -> bool:
        """One objective and no constraint: what every strategy serves, told one number per query."""
        return self.m == 1 and not self.constraints

    @property
    def signs(self) -> np.ndarray:
        return np.array([o.sign for o in self.objectives])

    @property
    def exact_constraints(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.name in self.exact_columns)

    @property
    def measured_constraints(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.name not in self.exact_columns)

    def objective_matrix(self, outcomes: np.ndarray) -> np.ndarray:
        """(n, m) objectives in maximisation form from (n, len(columns)) outcomes."""
        return np.atleast_2d(outcomes)[:, :self.m] * self.signs

    def scalar(self, outcomes: np.ndarray) -> np.ndarray:
        """The one number a single-objective strategy maximises: the first objective in
        maximisation form, NaN where the outcome violates a constraint."""
        y = self.objective_matrix(outcomes)[:, 0]
        return np.where(self.feasible(outcomes), y, np.nan) if self.constraints else y

    def feasible(self, outcomes: np.ndarray) -> np.ndarray:
        return pareto.feasible(outcomes, self.columns, self.constraints)

    def violation(self, outcomes: np.ndarray) -> np.ndarray:
        return pareto.violation(outcomes, self.columns, self.constraints)

    def exactly_feasible(self, archs: np.ndarray) -> np.ndarray:
        """Which architectures satisfy the constraints on exact columns (known before training)."""
        if not self.exact_constraints:
            return np.ones(len(archs), dtype=bool)
        return pareto.feasible(self.exact(archs), self.exact_columns, self.exact_constraints)

    def __str__(self) -> str:
        text = ", ".join(map(str, self.objectives))
        return text + (f" s.t. {', '.join(map(str, self.constraints))}" if self.constraints else "")


# --- the answer -----------------------------------------------------------------------------------
@dataclass
class Truth:
    """What a table says the answer is: the true feasible front (maximisation form), the
    reference point and its hypervolume; with one objective, the best feasible value (maximisation
    form). Live, nothing is known (`known` False): the reference point is the given one, or the
    one inferred from the front of every run combined (`combined`), set by the report."""

    problem: Problem
    front: np.ndarray | None  # None: unknown (live)
    ref: np.ndarray | None
    hypervolume: float | None
    optimum: float
    combined: np.ndarray | None = None

    @property
    def known(self) -> bool:
        return self.front is not None

    @classmethod
    def unknown(cls, problem: Problem) -> "Truth":
        ref = None if problem.ref_point is None else np.asarray(problem.ref_point, dtype=np.float64) * problem.signs
        return cls(problem, None, ref, None, float("nan"))

    @classmethod
    def of(cls, values: np.ndarray, problem: Problem) -> "Truth":
        """From every outcome vector the table holds (rows: architectures, columns: the problem's)."""
        ok = problem.feasible(values)
        Y = problem.objective_matrix(values[ok])
        Y = Y[np.isfinite(Y).all(axis=1)]
        if len(Y) == 0:
            raise UsageError("no architecture of the table satisfies the constraints (with finite objectives)")
        front = np.unique(Y[pareto.non_dominated(Y)], axis=0)
        if problem.m == 1:
            return cls(problem, front, None, None, float(front.max()))
        given = problem.ref_point
        ref = pareto.reference_point(front) if given is None else np.asarray(given, dtype=np.float64) * problem.signs
        volume = pareto.hypervolume(front, ref)
        if volume <= 0:
            raw = ", ".join(f"{o.name}={v:g}" for o, v in zip(problem.objectives, ref * problem.signs))
            raise UsageError(f"no feasible architecture beats the reference point ({raw}) in every objective: "
                             "its hypervolume would be 0")
        return cls(problem, front, ref, volume, float("nan"))

    def objectives(self, outcomes: np.ndarray) -> np.ndarray:
        """Objective matrix (maximisation form) with infeasible or failed rows at -inf."""
        Y = self.problem.objective_matrix(outcomes)
        keep = self.problem.feasible(outcomes) & np.isfinite(Y).all(axis=1)
        return np.where(keep[:, None], Y, -np.inf)
