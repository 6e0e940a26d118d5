from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

cfg = Config()
cfg.HistoryManager.enabled = False
sh = InteractiveShell.instance(config=cfg)
sh.run_cell("%load_ext ecs_notebook")
sh.run_cell("%ecs_store sqlite:///store-0.1.0.db")
sh.run_cell("""from ecs_notebook import Entity
class Student(Entity):
    name: str
    gpa: float = 0.0
ada = Student(name="Ada", gpa=3.4)
threshold = 3.5
raw = [1, 2, 3]""")
r = sh.run_cell("""%%ecs_exec analyze
honors = ada.gpa >= threshold
ada.gpa = round(ada.gpa + 0.3, 2)""")
print(r.error_in_exec)
r = sh.run_cell("""%%ecs_exec total
total = sum(raw)
doubled = [x * 2 for x in raw]""")
print(r.error_in_exec)
r = sh.run_cell("""%%ecs_exec report
summary = f"{total} {honors}" """)
print(r.error_in_exec)
sh.run_cell("%ecs_executions")
