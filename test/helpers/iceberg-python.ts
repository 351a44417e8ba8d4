// Test helper: the Python packages of the tables' independent readers (pyiceberg over the REST catalog, pyarrow for Parquet), pinned.
import { DEFAULT_PYTHON_PACKAGES } from './python.ts';

export const TABLE_PYTHON_PACKAGES: readonly string[] = [...DEFAULT_PYTHON_PACKAGES, 'pyiceberg[pyarrow]==0.12.0'];
