"""autosft plugin for tabular fraud and credit-risk data.

Installing ``autosft-fraud-tabular`` registers, through the ``autosft`` entry-point group:

- datasets ``tabular`` (a CSV or Parquet file) and ``synthetic_fraud`` (a generated fraud-like
  table); both can hand a source population to pre-train on (``Splits.pretrain``);
- the models ``tabular_mlp``, an MLP, and ``tabm``, TabM (an efficient ensemble of MLPs) over
  piecewise-linear numeric embeddings; both pre-trained once on that population and cached on disk;
- imbalance strategies ``random_over``, ``random_under``, ``smote``, ``adasyn``, ``smote_tomek``;
- augmentations ``feature_noise`` and ``mixup``;
- metrics ``recall_at_precision_80`` and ``recall_at_precision_90``;
- a portfolio for ``tabular_mlp`` (``portfolios/tabular_mlp.json``, learned across credit and fraud
  tables by ``benchmarks/learn_portfolio.py``): the configurations a new study tries first.

This module holds hook implementations only. Each imports its component module inside the hook
body, so listing plugins or ``autosft --help`` never imports torch, pandas or scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from autosft import hookimpl

if TYPE_CHECKING:
    from autosft import Augmentation, DatasetLoader, ImbalanceStrategy, Metric, ModelBuilder, Portfolio

__all__ = [
    "autosft_register_augmentations",
    "autosft_register_datasets",
    "autosft_register_imbalance_strategies",
    "autosft_register_metrics",
    "autosft_register_models",
    "autosft_register_portfolios",
]


@hookimpl
def autosft_register_datasets(register: Callable[[DatasetLoader], None]) -> None:
    from autosft_fraud_tabular.data import TabularDataset
    from autosft_fraud_tabular.synthetic import SyntheticFraudDataset

    register(TabularDataset())
    register(SyntheticFraudDataset())


@hookimpl
def autosft_register_models(register: Callable[[ModelBuilder], None]) -> None:
    from autosft_fraud_tabular.ensemble import TabMBuilder
    from autosft_fraud_tabular.model import TabularMLPBuilder

    register(TabularMLPBuilder())
    register(TabMBuilder())


@hookimpl
def autosft_register_augmentations(register: Callable[[Augmentation], None]) -> None:
    from autosft_fraud_tabular.augment import FeatureNoise, Mixup

    register(FeatureNoise())
    register(Mixup())


@hookimpl
def autosft_register_imbalance_strategies(register: Callable[[ImbalanceStrategy], None]) -> None:
    from autosft_fraud_tabular.imbalance import STRATEGIES

    for strategy in STRATEGIES:
        register(strategy())


@hookimpl
def autosft_register_metrics(register: Callable[[Metric], None]) -> None:
    from autosft_fraud_tabular.metrics import METRICS

    for metric in METRICS:
        register(metric)


@hookimpl
def autosft_register_portfolios(register: Callable[[Portfolio], None]) -> None:
    from autosft import load_portfolio

    register(load_portfolio("autosft_fraud_tabular", "portfolios/tabular_mlp.json"))
