"""bl_utils: the helper package of the boundary-loss-on-BUSI report.

One module per concept (``from bl_utils import distance``, ``from bl_utils.data import busi``);
``python -m bl_utils {train,study,report}`` is its command line. The modules, in six groups:

The method: Kervadec et al.'s loss, the metrics, the statistics:

* ``distance``             — signed distance maps Φ_G (negative inside, 0 on the inner boundary) and their scaling
* ``losses``               — the boundary loss L_B, the regional losses, the strategies' objective
* ``schedules``            — α(t) schedules and the four strategies as data
* ``metrics``              — Dice, IoU, HD95, ASSD, NSD, connected components, Odonnat & Pham's batch-pooled F1
* ``stats``                — corrected resampled t, TOST, Holm, the sizing of a ± margin answer
* ``disks``                — Kervadec et al.'s identities on analytic disks (eqs. 1–7)

The data: two hospitals read into one dataset, and the synthetic stand-in:

* ``data.source``          — where the data comes from: a BUSI folder, Kaggle, or the synthetic stand-in
* ``data.busi``            — reading BUSI's layout; resizing; the selection rules applied; content fingerprint
* ``data.busbra``          — reading BUS-BRA (a second hospital) into the same dataset; where a user's copy is
* ``data.dataset``         — the arrays of a loaded dataset and their table; the selection rule and its counts
* ``data.manifest``        — the original image sizes of a resized copy (manifest.csv)
* ``data.cache``           — the resized arrays and Φ_G kept on disk between runs
* ``data.duplicates``      — near-duplicate images and their groups
* ``data.split``           — train/validation splits and cross-validation folds
* ``data.synthetic``       — the synthetic, ultrasound-like stand-in in BUSI's layout

One training run: what it is, its data, its loop, its files:

* ``config``               — what a run is: profiles, protocols, every setting, the run's folder
* ``training_data``        — the data of one run: selection, split, resizing, standardisation, Φ_G, normal and external images
* ``model``                — the U-Net (segmentation-models-pytorch) and its encoder weights
* ``train``                — the training loop: resumable, reproducible, the run's files
* ``evaluate``             — predictions; the final model on degraded images and on the external images
* ``noise``                — speckle, gain and contour jitter
* ``threads``              — how processes share the cores: training keeps its threads, others yield
* ``runtime``              — device, seeds, atomic writes, run metadata, the machine

Runs and answers: every reader of a run folder, the groups of runs, one module per protocol's answer:

* ``runs``                 — every reader of a finished run's files, and the keys comparisons pair by
* ``experiments``          — every group of runs the report publishes: planning, fetching, the command
* ``answers.paired``       — the paired difference, once: per run (corrected intervals) and per seed and image (bootstrap)
* ``answers.study``        — the study's answer: its primary endpoint, sizing and the exploratory rest
* ``answers.external``     — the external test on BUS-BRA: its endpoint, stated before its runs, and its answer
* ``answers.settings``     — what a user should set: Φ_G's scale, α and the schedule, on the study protocol
* ``answers.odonnat_pham`` — Odonnat & Pham's answer: their Table 1, and their protocol as their code ran it
* ``answers.earlier``      — the earlier protocol (appendix): Table 1 over seeds, ablations, annotation noise
* ``words``                — the report's sentences; each verdict phrased once

The notebooks: their header, widgets and figures:

* ``notebook``             — what every notebook does first, and what its cells write: data, runs, answers, tables
* ``explorer``             — the computations behind notebook 2's explorer
* ``widgets``              — notebook 2's ipywidgets explorer
* ``plots.style``          — save_figure, the strategies' colours and markers, legible titles
* ``plots.data``           — notebook 1's figures
* ``plots.maths``          — notebook 2's figures
* ``plots.training``       — notebook 3's figures
* ``plots.settings``       — notebook 3's settings figure
* ``plots.qualitative``    — notebook 4's figure
* ``plots.robustness``     — notebook 5's figures
* ``plots.external``       — notebook 6's figures
* ``colab``                — the notebooks' Colab header and setup

The commands:

* ``report``               — python -m bl_utils report: the notebooks in order, and their publication
* ``launch``               — runs as local or Slurm jobs (submitit)
* ``cli``                  — python -m bl_utils train
"""

__version__ = "0.1.0"

from .threads import share_cores as _share_cores

_share_cores()   # before torch is imported where possible (see bl_utils.threads)
