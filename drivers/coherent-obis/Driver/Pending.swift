// Arrives with the driver (issue 4); replace this file.
