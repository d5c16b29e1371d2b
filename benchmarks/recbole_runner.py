"""Runs inside the RecBole virtual environment (not the project's): train and test RecBole's SASRec.

Usage: python recbole_runner.py CONFIG.json OUTPUT.json
CONFIG holds the RecBole config dict (data_path, dataset, epochs, ...). OUTPUT receives the test metrics
and each user's test target (tokens), so the caller can verify that the split is identical to its own.
"""

import json
import os
import sys
import time

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # RecBole 1.2.1 checkpoints hold a config


def main() -> None:
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    with open(sys.argv[1]) as fh:
        settings = json.load(fh)
    torch.set_num_threads(int(settings.pop("threads", 2)))
    config = Config(model="SASRec", dataset=settings["dataset"], config_dict=settings)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    # Each test user's history ends at the validation item; the test target is the last item.
    test_ds = test_data.dataset
    uid, iid = config["USER_ID_FIELD"], config["ITEM_ID_FIELD"]
    users = dataset.id2token(uid, test_ds.inter_feat[uid].numpy())
    items = dataset.id2token(iid, test_ds.inter_feat[iid].numpy())
    valid_items = dataset.id2token(iid, valid_data.dataset.inter_feat[iid].numpy())
    valid_users = dataset.id2token(uid, valid_data.dataset.inter_feat[uid].numpy())
    model = SASRec(config, train_data.dataset).to(config["device"])
    trainer = Trainer(config, model)
    start = time.perf_counter()
    best_valid, _ = trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    train_s = time.perf_counter() - start
    result = trainer.evaluate(test_data, load_best_model=True, show_progress=False)
    out = {
        "test": {k.lower(): float(v) for k, v in dict(result).items()},
        "best_valid": float(best_valid) if best_valid is not None else None,
        "train_wall_time_s": train_s,
        "epochs_run": len(trainer.train_loss_dict),
        "test_targets": dict(zip(map(str, users), map(str, items), strict=True)),
        "valid_targets": dict(zip(map(str, valid_users), map(str, valid_items), strict=True)),
        "num_train_samples": len(train_data.dataset),
    }
    with open(sys.argv[2], "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
