// Test helper: the Python packages of the tables' independent readers (pyiceberg over the REST catalog, pyarrow for Parquet), pinned as scripts/setup.sh installs them.
import { DEFAULT_PYTHON_PACKAGES } from './python.ts';

export const TABLE_PYTHON_PACKAGES: readonly string[] = [...DEFAULT_PYTHON_PACKAGES, 'pyiceberg[pyarrow,pyiceberg-core]==0.12.0', 'pyiceberg-core==0.10.1', 'pyarrow==26.0.1'];
