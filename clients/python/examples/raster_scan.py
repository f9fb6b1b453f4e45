"""Raster scan: two stages move over a grid while the laser is on; at each point the script
reads the stages' positions and the laser's measured power, writes them to a CSV file and
prints a small text mosaic of the power.

The camera part of the scan (a frame at each point, saved as a mosaic image) comes with
camera frames on the wire; see docs/python.md.

    labvisord --demo &
    python3 raster_scan.py --nx 4 --nz 3 --step 0.5 --output scan.csv
"""

from __future__ import annotations

import argparse
import csv
import sys

import labvisor


def scan(lab: labvisor.Lab, nx: int, nz: int, step: float, power: float):
    """Runs the scan and returns one row per point: (i, j, x, z, measured power W)."""
    rows = []
    with lab.lock(["stage-x", "stage-z", "laser-488"], timeout=30) as (x, z, laser):
        x.home()
        z.home()
        laser.power_setpoint = power
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
                    print(f"point ({i}, {j}): x={rows[-1][2]:.3f} mm z={rows[-1][3]:.3f} mm "
                          f"power={rows[-1][4] * 1000:.2f} mW", flush=True)
        finally:
            laser.emission_off()  # the lease's end would not switch it off by itself
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nx", type=int, default=4, help="points along x")
    parser.add_argument("--nz", type=int, default=3, help="points along z")
    parser.add_argument("--step", type=float, default=0.5, help="grid step, mm")
    parser.add_argument("--power", type=float, default=0.02, help="laser power, W")
    parser.add_argument("--output", default="scan.csv", help="CSV file to write")
    options = parser.parse_args(argv)
    with labvisor.connect() as lab:
        rows = scan(lab, options.nx, options.nz, options.step, options.power)
    with open(options.output, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["i", "j", "x_mm", "z_mm", "power_w"])
        writer.writerows(rows)
    grid = {(i, j): power for i, j, _, _, power in rows}
    print("mosaic of measured power (mW), z down, x across:")
    for j in range(options.nz):
        print(" ".join(f"{grid[(i, j)] * 1000:6.2f}" for i in range(options.nx)))
    print(f"{len(rows)} points written to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
