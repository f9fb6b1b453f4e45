#ifndef LABVISOR_UMOCKDEV_TTY_H
#define LABVISOR_UMOCKDEV_TTY_H

/* The device side of a umockdev tty node: an ioctl handler that answers what umockdev 0.17
 * does not emulate on a PTY (TIOCEXCL, TIOCNXCL, TIOCMGET, TIOCMBIS, TIOCMBIC, TIOCMSET),
 * keeps the modem lines and the exclusive mode where a test can read them, and passes every
 * other ioctl (termios, termios2, flush, TIOCOUTQ) through to the PTY.
 *
 * The handler runs on umockdev's ioctl thread; its state sits behind a pthread mutex. */

#include <umockdev.h>

typedef struct labvisor_umockdev_tty labvisor_umockdev_tty;

/* Attaches a handler to `devnode` ("/dev/ttyUSB0") of `testbed`. Call it BEFORE the device
 * is added (umockdev issue 173). `modem_bits` are the lines at start (TIOCM_CTS | TIOCM_DSR:
 * a device that is there). Returns NULL when umockdev refuses the attachment. The handle
 * lives until labvisor_umockdev_tty_release (and the testbed) let go of it. */
labvisor_umockdev_tty *labvisor_umockdev_tty_attach(UMockdevTestbed *testbed, const char *devnode, int modem_bits);

/* Drops the caller's reference. The handler stays attached until the testbed is freed. */
void labvisor_umockdev_tty_release(labvisor_umockdev_tty *tty);

/* The modem lines now (TIOCM_* bits), as TIOCMBIS / TIOCMBIC / TIOCMSET left them. */
int labvisor_umockdev_tty_modem_bits(labvisor_umockdev_tty *tty);

/* Whether the node is in exclusive mode (TIOCEXCL without a later TIOCNXCL). */
int labvisor_umockdev_tty_exclusive(labvisor_umockdev_tty *tty);

/* How many ioctls the handler answered itself, and how many it passed through. */
unsigned long labvisor_umockdev_tty_answered_count(labvisor_umockdev_tty *tty);
unsigned long labvisor_umockdev_tty_passed_count(labvisor_umockdev_tty *tty);

#endif
