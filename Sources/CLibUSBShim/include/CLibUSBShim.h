#ifndef CLIBUSB_SHIM_H
#define CLIBUSB_SHIM_H

/* libusb functions Swift cannot call directly (C variadics). Declared on the opaque struct
 * so this header does not include <libusb.h> a second time next to the CLibUSB module. */
struct libusb_context;

/* libusb_set_option(ctx, LIBUSB_OPTION_LOG_LEVEL, LIBUSB_LOG_LEVEL_NONE): libusb prints nothing. */
int clibusb_disable_logging(struct libusb_context *ctx);

/* libusb_set_option(ctx, LIBUSB_OPTION_LOG_LEVEL, LIBUSB_LOG_LEVEL_DEBUG) when LABVISOR_LIBUSB_DEBUG is set. */
int clibusb_enable_debug_logging(struct libusb_context *ctx);

#endif
