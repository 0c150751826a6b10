"""The report's answers, one module per protocol: what each protocol's runs say, with its intervals.

* :mod:`~bl_utils.answers.study` — the study's primary endpoint, its sizing and the exploratory rest;
* :mod:`~bl_utils.answers.settings` — Φ_G's scale, α and the schedule, as arms paired with the study's runs;
* :mod:`~bl_utils.answers.odonnat_pham` — their Table 1 and their protocol as their code ran it;
* :mod:`~bl_utils.answers.earlier` — the earlier protocol (the appendix), numbers without verdicts;
* :mod:`~bl_utils.answers.paired` — the paired difference, written once;
* :mod:`~bl_utils.answers.external` — the external test: models trained on all 425 BUSI tumour
  images, scored on another hospital's images (BUS-BRA); its endpoint, stated before its runs.
"""
