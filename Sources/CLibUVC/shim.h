/* libuvc, an independent UVC host implementation: only the camera simulator's cross-check
 * (drivers/uvc-camera/vendor-check) uses it, never the daemon. */
#include <libuvc/libuvc.h>
