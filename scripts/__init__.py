"""trtrl: the command line (this folder, ``scripts/``) and, as subpackages, the models
(``trtrl.pymodel``), the RTL (``trtrl.rtl``), the testbenches (``trtrl.testbenches``) and
the experiments (``trtrl.experiments``). The project's version lives here (setup.cfg
reads it)."""

__version__ = "0.1.0"
