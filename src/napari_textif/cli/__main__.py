import sys

from napari_textif.cli import main

sys.exit(main())
