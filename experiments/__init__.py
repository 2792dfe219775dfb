"""The `trtrl experiment` runs, one module each.

Each module has ``add_arguments(parser)`` and ``main(args) -> int`` (registered in
``scripts/cmd_experiment.py``); its docstring's first line is the help. An experiment
writes one report folder (``pymodel.report``): plots, CSVs, ``report.md`` and
``report.json``. They live outside ``pymodel/`` because the hardware one needs ``rtl/``.
"""
