"""The data: BUSI as downloaded, its selection, its near-duplicates and splits, and the synthetic stand-in.

* :mod:`~bl_utils.data.source`     — where the data comes from (a folder, Kaggle, synthetic);
* :mod:`~bl_utils.data.busi`       — reading BUSI's layout, resizing, the selection rules applied, the
  content fingerprint;
* :mod:`~bl_utils.data.dataset`    — :class:`~bl_utils.data.dataset.UltrasoundDataset`, the arrays and their table;
  the selection rule (:func:`~bl_utils.data.dataset.keeps`) and its counts;
* :mod:`~bl_utils.data.manifest`   — the original image sizes of a resized copy (``manifest.csv``);
* :mod:`~bl_utils.data.cache`      — the resized arrays and Φ_G kept on disk between runs;
* :mod:`~bl_utils.data.duplicates` — near-duplicate images (difference hash) and their groups;
* :mod:`~bl_utils.data.split`      — train/validation splits and cross-validation folds;
* :mod:`~bl_utils.data.synthetic`  — the synthetic, ultrasound-like stand-in written in BUSI's layout.
"""
