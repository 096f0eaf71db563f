################################################################################
#
# tend
#
################################################################################

TEND_VERSION = 0.1.0
TEND_LICENSE = MIT
TEND_LICENSE_FILES = LICENSE

TEND_LOCAL_SRC = $(call qstrip,$(BR2_PACKAGE_TEND_LOCAL_SRC))
ifneq ($(TEND_LOCAL_SRC),)
# Development: a source tree on this machine (BR2_PACKAGE_TEND_LOCAL_SRC).
TEND_SITE = $(TEND_LOCAL_SRC)
TEND_SITE_METHOD = local
else
# The release tarball (a .tar.gz whose top directory is tend-VERSION/, as
# made by `git archive --prefix=tend-$(TEND_VERSION)/`). Buildroot vendors
# its crates when it downloads it. example.invalid is tend's placeholder
# home (Cargo.toml's repository): replace it with the real release site.
# The name is not a default: a cargo package's is tend-VERSION-cargo4.tar.gz.
# check-package RemoveDefaultPackageSourceVariable
TEND_SOURCE = tend-$(TEND_VERSION).tar.gz
TEND_SITE = https://example.invalid/tend/releases/download/v$(TEND_VERSION)
TEND_SITE_METHOD = wget
endif

# host-tend runs `tend check` on the service table (TEND_CHECK_TABLE).
TEND_DEPENDENCIES = host-tend

# A local source tree is copied, not downloaded, so Buildroot has not
# vendored its crates the way its download step does for a tarball
# (support/download/cargo-post-process): vendor them here, from
# Buildroot's cargo home, before cargo builds --offline. Only the first
# build needs crates.io. The copy leaves out what the checkout's
# .gitignore files leave out (cargo's target/, the fuzzers' target/,
# corpus/ and artifacts/): a fuzz run in the checkout writes hundreds of
# megabytes there and changes its corpus while rsync reads it.
define TEND_VENDOR_CRATES
	mkdir -p $(@D)/.cargo $(BR_CARGO_HOME)
	cd $(@D) && $(HOST_MAKE_ENV) CARGO_HOME=$(BR_CARGO_HOME) \
		flock $(BR_CARGO_HOME)/.br-lock sh -c \
		'cargo vendor --offline --locked VENDOR >.cargo/config.toml 2>/dev/null || \
		cargo vendor --locked VENDOR >.cargo/config.toml'
endef
TEND_COPY_EXCLUSIONS = --exclude=/target --filter=':- .gitignore'
ifneq ($(TEND_LOCAL_SRC)$(TEND_OVERRIDE_SRCDIR),)
TEND_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = $(TEND_COPY_EXCLUSIONS)
TEND_PRE_CONFIGURE_HOOKS += TEND_VENDOR_CRATES
endif
ifneq ($(TEND_LOCAL_SRC)$(TEND_OVERRIDE_SRCDIR)$(HOST_TEND_OVERRIDE_SRCDIR),)
HOST_TEND_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = $(TEND_COPY_EXCLUSIONS)
HOST_TEND_PRE_CONFIGURE_HOOKS += TEND_VENDOR_CRATES
endif

# The build profile (tend(8), BUILD PROFILES): the cargo features the
# options keep. host-tend, which checks the table, is built the same, so
# that `tend check` refuses a key of a feature the image's tend lacks.
TEND_FEATURES = $(strip \
	$(if $(BR2_PACKAGE_TEND_JSON),json) \
	$(if $(BR2_PACKAGE_TEND_SYSLOG),syslog) \
	$(if $(BR2_PACKAGE_TEND_WATCHDOG),watchdog) \
	$(if $(BR2_PACKAGE_TEND_KEEP),keep) \
	$(if $(BR2_PACKAGE_TEND_LISTEN),listen) \
	$(if $(BR2_PACKAGE_TEND_RELOAD),reload) \
	$(if $(BR2_PACKAGE_TEND_VERBOSE),verbose))
TEND_CARGO_FEATURE_OPTS = --no-default-features --features '$(subst $(space),$(comma),$(TEND_FEATURES))'
TEND_CARGO_BUILD_OPTS = $(TEND_CARGO_FEATURE_OPTS)
TEND_CARGO_INSTALL_OPTS = $(TEND_CARGO_FEATURE_OPTS)
HOST_TEND_CARGO_BUILD_OPTS = $(TEND_CARGO_FEATURE_OPTS)
HOST_TEND_CARGO_INSTALL_OPTS = $(TEND_CARGO_FEATURE_OPTS)

# tend has its own _start and links no libc: its build.rs gives the gcc
# driver -nostartfiles -nostdlib -static -no-pie. The flags below are the
# ones tend's .cargo/config.toml gives its cross targets, which Buildroot's
# vendoring replaces: code for a fixed address, and (musl) none of rustc's
# own C runtime objects, and on x86_64 matches as compares rather than jump
# tables and no red zone (smaller there). This variable is also the one pkg-cargo.mk sets on
# ARM, so its flag is kept.
TEND_RUSTFLAGS = -C relocation-model=static
ifeq ($(BR2_x86_64),y)
TEND_RUSTFLAGS += -C llvm-args=-min-jump-table-entries=10000 -C no-redzone=yes
endif
ifeq ($(BR2_TOOLCHAIN_USES_MUSL),y)
TEND_RUSTFLAGS += -C link-self-contained=no
endif
ifeq ($(NORMALIZED_ARCH),arm)
TEND_RUSTFLAGS += -Clink-arg=-Wl,--allow-multiple-definition
endif

# A release build that keeps a panic path does not link (the panic handler
# calls an undefined symbol): that proof needs Cargo.toml's release profile
# (LTO, one codegen unit, opt-level z, no overflow checks), which
# pkg-cargo.mk overrides from the BR2_OPTIMIZE_* and debug options. Without
# debug assertions the dev profile (BR2_ENABLE_DEBUG) is held to the same.
TEND_CARGO_ENV = \
	CARGO_TARGET_$(call UPPERCASE,$(RUSTC_TARGET_NAME))_RUSTFLAGS="$(TEND_RUSTFLAGS)" \
	$(foreach p,DEV RELEASE, \
		CARGO_PROFILE_$(p)_OPT_LEVEL="z" \
		CARGO_PROFILE_$(p)_LTO="true" \
		CARGO_PROFILE_$(p)_CODEGEN_UNITS="1" \
		CARGO_PROFILE_$(p)_DEBUG_ASSERTIONS="false" \
		CARGO_PROFILE_$(p)_OVERFLOW_CHECKS="false")

ifeq ($(BR2_PACKAGE_TEND_SBIN_INIT),y)
# An absolute link: with a merged /usr, /sbin is itself a link to usr/sbin.
define TEND_INSTALL_SBIN_INIT
	mkdir -p $(TARGET_DIR)/sbin
	ln -sf /usr/bin/tend $(TARGET_DIR)/sbin/init
endef
TEND_POST_INSTALL_TARGET_HOOKS += TEND_INSTALL_SBIN_INIT
endif

ifneq ($(BR2_INIT_TEND)$(BR2_PACKAGE_TEND_SBIN_INIT),)
# tend is the init: no BusyBox init, nor its /linuxrc. (halt, poweroff
# and reboot stay: they signal PID 1, and tend takes BusyBox's signals.)
define TEND_BUSYBOX_CONFIG_FIXUPS
	$(call KCONFIG_DISABLE_OPT,CONFIG_INIT)
	$(call KCONFIG_DISABLE_OPT,CONFIG_LINUXRC)
endef
endif

# The service table, installed when the target directory is finalised (so
# an edit of the table needs no rebuild), before rootfs overlays: an
# overlay's /etc/tend.conf replaces it.
TEND_TABLE = $(call qstrip,$(BR2_PACKAGE_TEND_TABLE))

ifeq ($(BR2_PACKAGE_TEND)$(BR_BUILDING),yy)
ifneq ($(TEND_TABLE),)
ifeq ($(wildcard $(TEND_TABLE)),)
$(error BR2_PACKAGE_TEND_TABLE: no such file: $(TEND_TABLE))
endif
endif
endif

# The services Buildroot's own init systems would start from the system
# configuration, as tend services: a getty (BR2_TARGET_GENERIC_GETTY_*, the
# line BusyBox's inittab gets) and a DHCP client (BR2_SYSTEM_DHCP).
ifeq ($(BR2_TARGET_GENERIC_GETTY),y)
define TEND_TABLE_ADD_GETTY
	printf '\n# From BR2_TARGET_GENERIC_GETTY_* (package/tend/tend.mk)\n[getty]\nrun = %s\nstop-signal = HUP\n' \
		'$(strip /sbin/getty -L $(SYSTEM_GETTY_OPTIONS) $(SYSTEM_GETTY_PORT) $(SYSTEM_GETTY_BAUDRATE) $(SYSTEM_GETTY_TERM))' \
		>>$(TARGET_DIR)/etc/tend.conf
endef
endif

TEND_DHCP_IFACE = $(call qstrip,$(BR2_SYSTEM_DHCP))
ifneq ($(TEND_DHCP_IFACE),)
ifeq ($(BR2_PACKAGE_BUSYBOX),y)
define TEND_TABLE_ADD_DHCP
	printf '\n# From BR2_SYSTEM_DHCP (package/tend/tend.mk)\n[dhcp]\nrun = /sbin/udhcpc -f -i %s\n' \
		'$(TEND_DHCP_IFACE)' >>$(TARGET_DIR)/etc/tend.conf
endef
endif
endif

ifneq ($(TEND_TABLE),)
define TEND_INSTALL_TABLE
	$(INSTALL) -D -m 0644 $(TEND_TABLE) $(TARGET_DIR)/etc/tend.conf
	$(TEND_TABLE_ADD_GETTY)
	$(TEND_TABLE_ADD_DHCP)
endef
TEND_TARGET_FINALIZE_HOOKS += TEND_INSTALL_TABLE
endif

# The table in each root file system image, once overlays, post-build
# scripts and the users tables (mkusers) have been applied: `tend check`
# resolves its users and groups against that image's /etc, and any error
# fails the build. When tend is not the init, a missing table is allowed.
define TEND_CHECK_TABLE
	$(if $(BR2_INIT_TEND)$(BR2_PACKAGE_TEND_SBIN_INIT),,test ! -e $(TARGET_DIR)/etc/tend.conf || )$(HOST_DIR)/bin/tend check -r $(TARGET_DIR) $(TARGET_DIR)/etc/tend.conf
endef
TEND_ROOTFS_PRE_CMD_HOOKS += TEND_CHECK_TABLE

# The manual pages, tend(8) and tend.conf(5), on the build machine beside
# host-tend, for whoever writes the table: `man -M $(HOST_DIR)/share/man
# tend.conf`. (Buildroot removes /usr/share/man from every target.)
define HOST_TEND_INSTALL_MAN_PAGES
	$(INSTALL) -D -m 0644 $(@D)/man/tend.8 $(HOST_DIR)/share/man/man8/tend.8
	$(INSTALL) -D -m 0644 $(@D)/man/tend.conf.5 $(HOST_DIR)/share/man/man5/tend.conf.5
endef
HOST_TEND_POST_INSTALL_HOOKS += HOST_TEND_INSTALL_MAN_PAGES

$(eval $(cargo-package))
$(eval $(host-cargo-package))
