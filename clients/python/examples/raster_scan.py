"""Raster scan: two stages move over a grid while the laser is on; at each point the script
reads the stages' positions and the laser's measured power, grabs a camera frame, writes the
readings to a CSV file, saves the frames as one mosaic image (PGM, each frame shrunk by
--shrink) and prints a small text mosaic of the power.

    labvisord --demo &
    python3 raster_scan.py --nx 4 --nz 3 --step 0.5 --output scan.csv --mosaic scan.pgm

Needs no numpy: the frames' bytes are sampled directly (``frame.data``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Dict, List, Tuple

import labvisor


def thumbnail(frame: labvisor.Frame, shrink: int) -> List[bytes]:
    """Every ``shrink``-th pixel of every ``shrink``-th row of an 8-bit (GREY) frame."""
    data, stride, width = frame.data, frame.stride, frame.width
    return [data[y * stride:y * stride + width:shrink].tobytes() for y in range(0, frame.height, shrink)]


def grab(camera: labvisor.Instrument) -> labvisor.Frame:
    """The camera's next frame (taken after the stages stopped: a new subscription starts
    from the next frame the camera publishes)."""
    with camera.frames(count=1, timeout=10, queue=1) as frames:
        frame = frames.next()
    assert frame is not None, "the camera stopped streaming"
    return frame


def save_pgm(path: str, tiles: Dict[Tuple[int, int], List[bytes]], nx: int, nz: int) -> Tuple[int, int]:
    """Writes the tiles (i across, j down) as one binary PGM image; returns its size."""
    tile_height = len(next(iter(tiles.values())))
    tile_width = len(next(iter(tiles.values()))[0])
    with open(path, "wb") as file:
        file.write(b"P5\n%d %d\n255\n" % (nx * tile_width, nz * tile_height))
        for j in range(nz):
            for row in range(tile_height):
                file.write(b"".join(tiles[(i, j)][row] for i in range(nx)))
    return nx * tile_width, nz * tile_height


def scan(lab: labvisor.Lab, nx: int, nz: int, step: float, power: float, shrink: int = 8):
    """Runs the scan and returns one row per point: (i, j, x, z, measured power W), and the
    camera's thumbnails by point."""
    rows = []
    tiles: Dict[Tuple[int, int], List[bytes]] = {}
    with lab.lock(["stage-x", "stage-z", "laser-488", "camera-1"], timeout=30) as (x, z, laser, camera):
        x.home()
        z.home()
        laser.power_setpoint = power
        camera.start_streaming(format="GREY", width=640, height=480)
        laser.emission_on()
        try:
            print(f"laser on: {laser.wait_for_power() * 1000:.2f} mW", flush=True)
            for j in range(nz):
                z.move_absolute(j * step)
                # Serpentine: every other row backwards, so the stage never flies back.
                columns = range(nx) if j % 2 == 0 else reversed(range(nx))
                for i in columns:
                    x.move_absolute(i * step)
                    rows.append((i, j, x.position, z.position, laser.measured_power))
                    frame = grab(camera)
                    tiles[(i, j)] = thumbnail(frame, shrink)
                    print(f"point ({i}, {j}): x={rows[-1][2]:.3f} mm z={rows[-1][3]:.3f} mm "
                          f"power={rows[-1][4] * 1000:.2f} mW frame {frame.sequence}", flush=True)
        finally:
            laser.emission_off()  # the lease's end would not switch it off by itself
            camera.stop_streaming()
    return rows, tiles


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nx", type=int, default=4, help="points along x")
    parser.add_argument("--nz", type=int, default=3, help="points along z")
    parser.add_argument("--step", type=float, default=0.5, help="grid step, mm")
    parser.add_argument("--power", type=float, default=0.02, help="laser power, W")
    parser.add_argument("--output", default="scan.csv", help="CSV file to write")
    parser.add_argument("--mosaic", default="scan.pgm", help="mosaic image (PGM) to write")
    parser.add_argument("--shrink", type=int, default=8, help="keep every n-th pixel of the frames in the mosaic")
    options = parser.parse_args(argv)
    with labvisor.connect() as lab:
        rows, tiles = scan(lab, options.nx, options.nz, options.step, options.power, options.shrink)
    width, height = save_pgm(options.mosaic, tiles, options.nx, options.nz)
    with open(options.output, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["i", "j", "x_mm", "z_mm", "power_w"])
        writer.writerows(rows)
    grid = {(i, j): power for i, j, _, _, power in rows}
    print("mosaic of measured power (mW), z down, x across:")
    for j in range(options.nz):
        print(" ".join(f"{grid[(i, j)] * 1000:6.2f}" for i in range(options.nx)))
    print(f"{len(rows)} points written to {options.output}")
    print(f"mosaic of {len(tiles)} frames ({width}x{height}) written to {options.mosaic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
