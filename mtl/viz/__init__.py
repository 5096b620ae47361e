"""Pictures and text of results: pure plotly figures, chart-ready frames and the HTML report.

Nothing here imports Streamlit or torch; every function takes pandas DataFrames or plain
dicts and returns a frame, a figure or text, so it has plain unit tests. One module per
family:

- :mod:`~mtl.viz.style` (the look every figure shares), :mod:`~mtl.viz.colors`,
  :mod:`~mtl.viz.labels` (readable, escaped headers);
- :mod:`~mtl.viz.frames` (curve and weight frames from the store's rows, the incremental
  :class:`~mtl.viz.frames.CurveFeed`), :mod:`~mtl.viz.summaries` (best and latest values,
  progress, the task-pair matrix), :mod:`~mtl.viz.runs_table`;
- figures: :mod:`~mtl.viz.curves`, :mod:`~mtl.viz.evaluation`, :mod:`~mtl.viz.network`,
  :mod:`~mtl.viz.sweeps`;
- :mod:`~mtl.viz.report`: the self-contained HTML report (reads the store and the studies).
"""
