# iris_train.py
from sluice import Run

run_context = Run.get_context()
iris_dataset = run_context.input_datasets["iris_data"]
records = iris_dataset.to_records()  # or .to_pandas_dataframe() where pandas is installed

# Within a PythonScriptStep
ws = Run.get_context().experiment.workspace

print(f"{len(records)} iris rows in workspace {ws}")
