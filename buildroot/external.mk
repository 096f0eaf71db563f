include $(sort $(wildcard $(BR2_EXTERNAL_TEND_PATH)/package/*/*.mk))
