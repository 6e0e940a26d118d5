import nbformat
from nbformat.v4 import new_notebook, new_code_cell, new_markdown_cell
md, code = new_markdown_cell, new_code_cell
cells = [
md("# A data-science analysis, every cell recorded\n\nA real pandas + scikit-learn + matplotlib analysis of the wine data set that ships with scikit-learn. "
   "Each cell is exactly what you would write without ecs_notebook, plus one `%%ecs_exec NAME` line: the cell still runs as a plain cell "
   "(imports stay, in-place edits stay, the last expression and the figure are shown once), and it is recorded: the variables it reads, "
   "and the ones it binds or changes in place (found by content fingerprint), become versions of each variable's lineage."),
code("%load_ext ecs_notebook"),
code("%%ecs_exec imports\nimport numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\nfrom sklearn.datasets import load_wine\nfrom sklearn.linear_model import LogisticRegression\nfrom sklearn.model_selection import train_test_split\nfrom sklearn.preprocessing import StandardScaler"),
code("%%ecs_exec load\nwine = load_wine(as_frame=True)\ndf = wine.frame.copy()\ndf.shape"),
md("Cleaning edits the frame **in place** (a new column, a column deleted): the summary line says `df` was changed in place."),
code("%%ecs_exec clean\ndf[\"alcohol_band\"] = pd.cut(df[\"alcohol\"], 3, labels=[\"low\", \"mid\", \"high\"])\ndel df[\"ash\"]\ndf.head(3)"),
code("%%ecs_exec explore\nsummary = df.groupby(\"target\")[[\"alcohol\", \"color_intensity\", \"proline\"]].mean().round(2)\nsummary"),
code("%%ecs_exec split\nX = df.drop(columns=[\"target\", \"alcohol_band\"])\ny = df[\"target\"]\nX_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)\nlen(X_train), len(X_test)"),
md("The scaler and the model are fitted **in place**; each fit is a new version of its variable."),
code("%%ecs_exec scale\nscaler = StandardScaler()\nscaler.fit(X_train)\nX_train_s = scaler.transform(X_train)\nX_test_s = scaler.transform(X_test)"),
code("%%ecs_exec fit\nmodel = LogisticRegression(max_iter=1000)\nmodel.fit(X_train_s, y_train)\naccuracy = round(model.score(X_test_s, y_test), 3)\naccuracy"),
code("%%ecs_exec confusion\npred = model.predict(X_test_s)\ncm = pd.crosstab(y_test.to_numpy(), pred, rownames=[\"true\"], colnames=[\"predicted\"])\ncm"),
code("%%ecs_exec plot\nfig, ax = plt.subplots(figsize=(6, 3))\nsummary[[\"alcohol\", \"color_intensity\"]].plot.bar(ax=ax)\nax.set_title(\"Mean by class\")\nplt.show()"),
md("## Where did `accuracy` come from?\n\nEverything above was recorded. The queries answer from the lineage store (it survives kernel restarts):", metadata={"tags": ["lineage"]}),
code("from ecs_notebook import upstream, is_stale\nupstream(accuracy, depth=2)", metadata={"tags": ["lineage"]}),
md("## Stale results and re-running\n\nA correction to the data in place makes everything computed from the old `df` stale; `%ecs_stale` says which variables and which cells refresh them, and `%ecs_rerun` re-runs exactly those cells in order.", metadata={"tags": ["lineage"]}),
code("%%ecs_exec cap_outliers\ndf.loc[df[\"proline\"] > 1500, \"proline\"] = 1500.0", metadata={"tags": ["lineage"]}),
code("%ecs_stale", metadata={"tags": ["lineage"]}),
code("%ecs_rerun", metadata={"tags": ["lineage"]}),
code("%ecs_stale", metadata={"tags": ["lineage"]}),
code("accuracy, is_stale(accuracy)", metadata={"tags": ["lineage"]}),
]
nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}, "language_info": {"name": "python"}})
nbformat.write(nb, "/work/main/notebooks/data_science.ipynb")
