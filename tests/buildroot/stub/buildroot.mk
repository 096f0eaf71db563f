# A stand-in for the part of Buildroot's make environment that
# buildroot/package/tend/tend.mk uses, so tests/buildroot/test_tree.py can
# evaluate the real tend.mk and run its commands without a Buildroot
# checkout. With BUILDROOT_DIR set, the tests compare what this gives with
# what Buildroot itself prints (`make printvars`).
#
#   make -f buildroot.mk BR2_CONFIG=.config TARGET_DIR=... HOST_DIR=... \
#        RUSTC_TARGET_NAME=... NORMALIZED_ARCH=... DUMP=FILE dump-VAR
#   make -f buildroot.mk ... RUN_DIR=DIR DIR/.run-VAR   (runs VAR as a recipe, $(@D) = DIR)

STUB_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
include $(BR2_CONFIG)

BR2_EXTERNAL_TEND_PATH ?= $(abspath $(STUB_DIR)/../../../buildroot)
BR_BUILDING ?= y

# The helpers tend.mk calls (support/misc/utils.mk, package/pkg-utils.mk).
comma := ,
empty :=
space := $(empty) $(empty)
qstrip = $(strip $(subst ",,$(1)))
UPPERCASE = $(shell printf '%s' '$(1)' | tr 'a-z.-' 'A-Z__')
KCONFIG_DISABLE_OPT = kconfig-disable-opt $(1)
INSTALL = install
HOST_MAKE_ENV = PATH="$(HOST_DIR)/bin:$(PATH)"
BR_CARGO_HOME ?= $(DL_DIR)/br-cargo-home

# system/system.mk
SYSTEM_GETTY_PORT = $(call qstrip,$(BR2_TARGET_GENERIC_GETTY_PORT))
SYSTEM_GETTY_BAUDRATE = $(call qstrip,$(BR2_TARGET_GENERIC_GETTY_BAUDRATE))
SYSTEM_GETTY_TERM = $(call qstrip,$(BR2_TARGET_GENERIC_GETTY_TERM))
SYSTEM_GETTY_OPTIONS = $(call qstrip,$(BR2_TARGET_GENERIC_GETTY_OPTIONS))

# The package infrastructures themselves are not evaluated.
cargo-package =
host-cargo-package =

include $(BR2_EXTERNAL_TEND_PATH)/package/tend/tend.mk

dump-%:
	$(file >$(DUMP),$($*))@:

$(RUN_DIR)/.run-%:
	$($*)
