"""Parameter and attribute documentation shared by the four estimators' docstrings."""

_PENALTY_DOC = """\
    input_dropout : float, default=0.0
        Dropout rate on the input features, in [0, 1).
    l1 : float, default=0.0
        Lasso strength ``l1 * sum(|w|)`` on the weight matrices (biases are not penalized).
    l2 : float, default=0.0
        Ridge strength ``l2 * sum(w ** 2)``.
    elastic_net : tuple (alpha, l1_ratio), optional
        Elastic net ``alpha * (l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|_2^2)``.
    weight_decay : float, default=0.0
        Decoupled decay: ``w <- w - learning_rate * weight_decay * w`` with each step
        (before the update, as in AdamW).
    prox_l1 : bool, default=False
        Apply the L1 parts (``l1`` and ``elastic_net``) by soft-thresholding after each
        step, which gives exact zeros (useful with ``SelectFromModel``).
    early_stopping : bool, default=False
        Stop when ``monitor`` has not improved for ``patience`` epochs and restore the
        best epoch's weights.
    monitor : str, default="val_loss"
        ``val_loss``, ``val_accuracy``, ``val_f1_macro``, ``val_roc_auc`` (binary),
        ``val_mse``, ``val_mae``, ``val_r2`` or ``loss``.
    patience : int, default=5
        Epochs without improvement before stopping.
    validation_fraction : float, default=0.1
        Share of the rows given to ``fit`` held out for ``val_*`` monitors when no
        ``X_val``/``y_val`` is passed, in (0, 1).
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        ``adamw`` without ``weight_decay`` decays at 0.01; ``sgd`` uses momentum 0.9.
    learning_rate : float, default=1e-3
    epochs : int, default=50
        Maximum number of epochs.
    batch_size : int, default=32
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, shuffling, dropout masks and the validation split.
    device : str, default="auto"
        Where training runs (``"auto"`` picks CUDA when available); the fitted model is
        kept on the CPU.
    verbose : int, default=0
        1 shows a progress bar.
"""

_CLASS_WEIGHT_DOC = """\
    class_weight : {None, "balanced"}, default=None
        ``"balanced"`` weighs each class's training loss by ``n_samples / (n_classes *
        count)`` (scikit-learn's ``compute_class_weight``, counted on the training rows
        after any ``validation_fraction`` hold-out), so a rare class counts as much as a
        common one. ``partial_fit`` refuses it (one call's rows are no class balance).
"""


_FITTED_DOC = """\
    n_features_in_ : int
        Columns of ``X`` seen in ``fit``.
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names (a DataFrame): the original names, also
        for a mixed table.
    preprocessor_ : regulab.tables.TablePreprocessor
        Defined when ``X`` was a mixed table (a DataFrame with text, ``category``, boolean
        or missing cells): the imputation, scaling and one-hot encoding fitted on the rows of
        the first ``fit`` or ``partial_fit`` call (``partial_fit`` keeps it), applied to raw
        frames by ``predict``; saved as JSON state. Its ``feature_names_out_`` name the model's
        inputs (the columns of ``coef_`` or ``feature_importances_``), its ``schema`` the
        columns used, their kinds and the columns dropped with a reason.
    model_ : regulab.models.MLP
        The trained torch module (on the CPU, eval mode).
    history_ : regulab.training.History
        One record per epoch (``loss``, ``val_*``, ``penalty``, ``sparsity``, ``seconds``).
    stop_reason_ : regulab.training.StopReason
    stop_message_ : str
    best_epoch_ : int or None
        Epoch whose weights were restored by early stopping.
    n_iter_ : int
        Epochs run.
    sparsity_ : regulab.penalties.SparsityReport
        Exact zeros per layer, in total, and the input features whose weights are all zero
        (fitted on a table: the original columns whose encoded columns all are).
"""
