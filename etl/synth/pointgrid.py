"""Point-in-polygon tests with the same answers as shapely.contains_xy, sped up by a grid.

The geometry's bounds are cut into cells. A cell the boundary does not cross lies wholly inside or
wholly outside (its centre says which), so its points are answered at once; only points in cells the
boundary crosses go to shapely. Cells are tested slightly enlarged (CELL_MARGIN degrees, far more than
the rounding of a point's cell index), so a point is never answered from a cell it could lie outside.
"""

from __future__ import annotations

import numpy as np
import shapely

CELLS = 128            # per side, including a padding cell on each side of the bounds
CELL_MARGIN = 1e-9     # degrees (~0.1 mm)


class PointGrid:
    def __init__(self, geom, cells: int = CELLS) -> None:
        shapely.prepare(geom)
        minx, miny, maxx, maxy = geom.bounds
        self.geom, self.cells = geom, cells
        self.dx = max(maxx - minx, 1e-6) / (cells - 2)
        self.dy = max(maxy - miny, 1e-6) / (cells - 2)
        self.x0, self.y0 = minx - self.dx, miny - self.dy
        i, j = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        boxes = shapely.box(self.x0 + i * self.dx - CELL_MARGIN, self.y0 + j * self.dy - CELL_MARGIN,
                            self.x0 + (i + 1) * self.dx + CELL_MARGIN, self.y0 + (j + 1) * self.dy + CELL_MARGIN)
        edge = shapely.boundary(geom)
        shapely.prepare(edge)
        crossed = shapely.intersects(edge, boxes)
        centre_in = shapely.contains_xy(geom, self.x0 + (i + 0.5) * self.dx, self.y0 + (j + 0.5) * self.dy)
        # 0: outside, 1: inside, 2: ask shapely.
        self.state = np.where(crossed, 2, np.where(centre_in, 1, 0)).astype(np.int8)

    def contains(self, x, y) -> np.ndarray:
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        shape, x, y = x.shape, x.ravel(), y.ravel()
        i = np.floor((x - self.x0) / self.dx)
        j = np.floor((y - self.y0) / self.dy)
        on_grid = (i >= 0) & (i < self.cells) & (j >= 0) & (j < self.cells)  # False for NaN
        state = np.zeros(len(x), dtype=np.int8)  # off the grid: more than a cell outside the bounds
        state[on_grid] = self.state[i[on_grid].astype(np.intp), j[on_grid].astype(np.intp)]
        out = state == 1
        ask = np.flatnonzero(state == 2)
        out[ask] = shapely.contains_xy(self.geom, x[ask], y[ask])
        return out.reshape(shape)


_GRIDS: dict[int, tuple[object, PointGrid]] = {}


def contains_xy(geom, x, y) -> np.ndarray:
    """shapely.contains_xy(geom, x, y), for a geometry tested many times (the demo geography's: its grid
    is built on first use and kept with the geometry)."""
    hit = _GRIDS.get(id(geom))
    if hit is None or hit[0] is not geom:
        hit = (geom, PointGrid(geom))
        _GRIDS[id(geom)] = hit
    return hit[1].contains(x, y)
