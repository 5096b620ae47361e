"""Studies built from ordinary runs: single-task baselines, Δm, sweeps, time estimates.

- :mod:`~mtl.study.baseline`: the single-task baseline of a run, found or trained;
- :mod:`~mtl.study.delta`: Δm, the mean relative change of a model against its baseline;
- :mod:`~mtl.study.sweeps`: a grid of settings × seeds, queued and aggregated;
- :mod:`~mtl.study.estimate` (the figures, torch-free) and :mod:`~mtl.study.timing`
  (timing a few real training steps; loads torch).

Studies queue runs through :mod:`mtl.runs` and read them back from the store; nothing here
imports Streamlit, and only :mod:`~mtl.study.timing` imports torch.
"""
