"""The report's answers, one module per protocol: what each protocol's runs say, with its intervals.

* :mod:`~bl_utils.answers.external` — the external test: models trained on all 425 BUSI tumour
  images, scored on another hospital's images (BUS-BRA); its endpoint, stated before its runs.
"""
