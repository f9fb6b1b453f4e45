#ifndef CUSBDEVFS_H
#define CUSBDEVFS_H

/* usbdevfs (the kernel's /dev/bus/usb interface) for the device side of simulated USB devices:
 * the URB struct, and the ioctl request numbers, which are macros Swift cannot import. */
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>

/* What an ioctl request is, for a switch in Swift. */
typedef enum {
    CUSBDEVFS_OTHER = 0,
    CUSBDEVFS_GET_CAPABILITIES,
    CUSBDEVFS_CLAIMINTERFACE,
    CUSBDEVFS_RELEASEINTERFACE,
    CUSBDEVFS_SETINTERFACE,
    CUSBDEVFS_SETCONFIGURATION,
    CUSBDEVFS_CLEAR_HALT,
    CUSBDEVFS_RESET,
    CUSBDEVFS_RESETEP,
    CUSBDEVFS_SUBMITURB,
    CUSBDEVFS_DISCARDURB,
    CUSBDEVFS_REAPURB,
    CUSBDEVFS_REAPURBNDELAY,
    CUSBDEVFS_GETDRIVER,
    CUSBDEVFS_IOCTL,
    CUSBDEVFS_DISCONNECT_CLAIM,
    CUSBDEVFS_CONNECTINFO,
} cusbdevfs_request;

/* Classifies an ioctl request number. */
cusbdevfs_request cusbdevfs_classify(unsigned long request);

/* The request numbers inside a USBDEVFS_IOCTL (struct usbdevfs_ioctl.ioctl_code). */
int cusbdevfs_ioctl_code_disconnect(void);
int cusbdevfs_ioctl_code_connect(void);

/* The capabilities a simulated device reports (bulk continuation, no packet size limit,
 * reap after disconnect, zero packet). */
unsigned int cusbdevfs_simulated_capabilities(void);

#endif
