"""No fixture: its presence puts this folder on sys.path (pytest's prepend import mode inserts a
conftest's folder), so the tests of the unit folders below (dashboard_publisher/) import
hub_stack_support by name, as the tests here do."""
