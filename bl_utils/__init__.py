"""bl_utils: the helper package of the boundary-loss-on-BUSI report.

One module per concept (``from bl_utils import distance``, ``from bl_utils.data import busi``);
``python -m bl_utils {train,study,report}`` is its command line. The modules:

* ``distance``          — signed distance maps Φ_G (negative inside, 0 on the inner boundary) and their scaling
* ``losses``            — the boundary loss L_B, the regional losses, the strategies' objective
* ``schedules``         — α(t) schedules and the four strategies as data
* ``metrics``           — Dice, IoU, HD95, ASSD, connected components, Odonnat & Pham's batch-pooled F1
* ``stats``             — corrected resampled t, TOST, Holm, the sizing of a ± margin answer
* ``data.source``       — where the data comes from: a BUSI folder, Kaggle, or the synthetic stand-in
* ``data.busi``         — reading BUSI's layout; resizing; the selection rules applied; content fingerprint
* ``data.busbra``       — reading BUS-BRA (a second hospital) into the same dataset; where a user's copy is
* ``data.dataset``      — the arrays of a loaded dataset and their table; the selection rule and its counts
* ``data.manifest``     — the original image sizes of a resized copy (manifest.csv)
* ``data.cache``        — the resized arrays and Φ_G kept on disk between runs
* ``data.duplicates``   — near-duplicate images and their groups
* ``data.split``        — train/validation splits and cross-validation folds
* ``data.synthetic``    — the synthetic, ultrasound-like stand-in in BUSI's layout
* ``config``            — what a run is: profiles, protocols, every setting, the run's folder
* ``training_data``     — the data of one run: selection, split, resizing, standardisation, Φ_G, normal images
* ``model``             — the U-Net (segmentation-models-pytorch) and its encoder weights
* ``train``             — the training loop: resumable, reproducible, the run's files
* ``evaluate``          — predictions, and the final model on degraded images
* ``noise``             — speckle, gain and contour jitter
* ``runs``              — finished runs read back; Table 1
* ``study``             — every group of runs the report publishes, and where to find them
* ``analysis``          — the earlier protocol's paired comparisons (two-level bootstrap), case selection
* ``crossval``          — the study's primary endpoint under repeated cross-validation
* ``reproduction``      — Odonnat & Pham's Table 1 as their code ran it
* ``answers.external``  — the external test on BUS-BRA: its endpoint, stated before its runs, and its answer
* ``words``             — the report's sentences, composed from the analyses' values
* ``disks``             — Kervadec et al.'s identities on analytic disks (eqs. 1–7)
* ``explorer``          — the computations behind notebook 2's explorer
* ``widgets``           — notebook 2's ipywidgets explorer
* ``plots.style``       — save_figure, the strategies' colours and markers, legible titles
* ``plots.data``        — notebook 1's figures
* ``plots.maths``       — notebook 2's figures
* ``plots.training``    — notebook 3's figures
* ``plots.qualitative`` — notebook 4's figure
* ``plots.robustness``  — notebook 5's figures
* ``notebook``          — what every notebook does first: its data, its runs, where its files go
* ``runtime``           — device, seeds, atomic writes, run metadata, the machine
* ``threads``           — how processes share the cores: training keeps its threads, others yield
* ``colab``             — the notebooks' Colab header and setup
* ``report``            — python -m bl_utils report: the notebooks in order, and their publication
* ``launch``            — runs as local or Slurm jobs (submitit)
* ``cli``               — python -m bl_utils train
"""

__version__ = "0.1.0"

from .threads import share_cores as _share_cores

_share_cores()   # before torch is imported where possible (see bl_utils.threads)
