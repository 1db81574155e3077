"""Freeze an item's job graph: which jobs run, with exactly what attributes.

The scheduler calls ``freeze_job_graph(layout, pipeline, project, branch,
changed_files)`` for each queue item (with the speculative layout when the
item or one ahead changes configuration).  It is pure — no I/O, no clock —
and fast: the inheritance part of a job (the chain of definitions from its
base job, with the variants that match the branch) is computed once per
layout and branch and cached in the layout, so freezing the same template
job for a thousand projects costs one chain and a thousand cheap copies.

For each job named in the project's pipeline stanzas (templates first,
stanza by stanza) it:

1. collects the job's inheritance chain, at each level every variant whose
   branch matcher fits (``override-checkout`` on the project-pipeline
   variant picks the branch, as in Zuul), and applies them in order
   (``lockgate.config.inherit``);
2. applies the project-pipeline variants;
3. checks what only the final job can tell: abstract jobs do not run,
   ``allowed-projects``, post-review jobs only in post-review pipelines;
4. applies ``files``/``irrelevant-files`` on the final value (ignored when
   the change alters the job's own configuration, ``match-on-config-updates``);
5. builds the ``FrozenJob`` (playbooks with their project, trust, roles and
   secrets; nodes; project variables under job variables).

Then it resolves ``dependencies`` into a DAG: a hard dependency on a job
that does not run is an error, a soft one is dropped, cycles are errors.
Errors are returned in the graph (``JobGraph.errors``), never rais

This package's modules, one job each, in layers (each uses only the ones
below it, by their public names): ``graph`` (``JobGraph``,
``freeze_job_graph``, the dependency DAG), ``recipes`` (cached templates
and graphs, ``clone``), ``chain`` (inheritance chains and the rules on
them, ``NotRun``; ``freeze_job``, ``validate_jobs``), ``build`` (the
``FrozenJob``).  They read the ``Layout`` record
(``lockgate.config.layout_model``), never the layout builder, which calls
``validate_jobs`` (import-linter contracts in pyproject.toml keep both
orders).  Callers import from here; the names below are re-exported.
"""

from lockgate.config.freeze.build import state_origin
from lockgate.config.freeze.chain import freeze_job, validate_jobs
from lockgate.config.freeze.graph import JobGraph, freeze_job_graph

__all__ = ["JobGraph", "freeze_job", "freeze_job_graph", "state_origin", "validate_jobs"]
