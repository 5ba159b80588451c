#pragma once
// Per-worker counters. Each worker owns one Counters and is its only writer,
// so there are no atomics on the packet path; the telemetry thread reads them
// racily, which can only show a slightly stale value of a monotonic count.
// Names follow Linux's MIBs (`nstat`) where one exists.
#include <array>
#include <cstdint>
#include <string_view>

namespace tern {

// clang-format off
#define TERN_EVENT_COUNTERS(X)                                                         \
  X(RxPackets) X(RxBytes) X(TxPackets) X(TxBytes)                                      \
  X(SteeredOut) X(SteeredIn) X(ReasmSteered) X(GroMerged) X(GsoSegments) X(GsoFrames)   \
  X(PmtuLearned) X(PmtuExpired) X(PmtuEvicted)                                         \
  X(ArpInRequests) X(ArpInReplies) X(ArpOutRequests) X(ArpOutReplies)                  \
  X(ArpCacheMisses) X(ArpResolved) X(ArpExpired)                                       \
  X(NdCacheMisses) X(NdResolved) X(NdExpired)                                          \
  X(IpInReceives) X(IpInDelivers) X(IpOutRequests)                                     \
  X(IpReasmReqds) X(IpReasmOKs) X(IpReasmFails)                                        \
  X(IcmpInMsgs) X(IcmpInEchos) X(IcmpInDestUnreachs) X(IcmpOutMsgs) X(IcmpOutEchoReps)  \
  X(Ip6InReceives) X(Ip6InDelivers) X(Ip6OutRequests) X(Ip6InMcastPkts)                \
  X(Ip6InHdrErrors) X(Ip6InTruncatedPkts) X(Ip6InAddrErrors) X(Ip6InUnknownProtos)     \
  X(Ip6OutNoRoutes)                                                                    \
  X(Ip6ReasmReqds) X(Ip6ReasmOKs) X(Ip6ReasmFails) X(Ip6ReasmTimeout)                  \
  X(Ip6FragOKs) X(Ip6FragCreates) X(Ip6FragFails)                                      \
  X(Icmp6InMsgs) X(Icmp6InErrors) X(Icmp6InCsumErrors) X(Icmp6InDestUnreachs)          \
  X(Icmp6InPktTooBigs) X(Icmp6InTimeExcds) X(Icmp6InParmProblems) X(Icmp6InEchos)      \
  X(Icmp6InEchoReplies) X(Icmp6InRouterSolicits) X(Icmp6InRouterAdvertisements)        \
  X(Icmp6InNeighborSolicits) X(Icmp6InNeighborAdvertisements)                          \
  X(Icmp6OutMsgs) X(Icmp6OutDestUnreachs) X(Icmp6OutParmProblems) X(Icmp6OutEchoReplies) \
  X(Icmp6OutRouterSolicits) X(Icmp6OutNeighborSolicits) X(Icmp6OutNeighborAdvertisements) \
  X(IcmpOutRateLimitGlobal)                                                            \
  X(NdDadFailed) X(NdPrefixListFull)                                                   \
  X(ActiveOpens) X(PassiveOpens) X(AttemptFails) X(EstabResets) X(CurrEstab)           \
  X(InSegs) X(OutSegs) X(RetransSegs) X(InErrs) X(OutRsts) X(InRsts)                            \
  X(ListenOverflows) X(ListenDrops)                                                    \
  X(SyncookiesSent) X(SyncookiesRecv) X(SyncookiesFailed)                              \
  X(TCPTimeWaitOverflow) X(TCPTimeWaitReuse) X(TCPChallengeACK)                        \
  X(TCPTimeouts) X(TCPSynRetrans) X(TCPAbortOnTimeout) X(TCPAbortOnClose)              \
  X(TCPAbortOnData) X(TCPAbortOnLinger) X(TCPFastRetrans) X(TCPPartialAckRetrans)     \
  X(DelayedACKs) X(TCPOFOQueue) X(TCPWinProbe) X(TCPKeepAlive)                         \
  X(TCPFinWait2Timeout) X(TCPDSACKDupData) X(TCPDSACKOldSent) X(TCPDSACKOfoSent)       \
  X(TCPMemoryPressures) X(TCPRcvCollapsed) X(OfoPruned) X(TCPPersistGiveUp)          \
  X(TCPACKSkippedInvalid) X(TCPChallengeACKSkipped) X(TCPAbortOnMemory)   \
  X(TCPAbortOnOrphans) X(TCPRcvForeignCopied)                                           \
  X(TCPSackRecovery) X(TCPSACKDiscard) X(TCPDSACKRecv) X(TCPSACKReneging) X(TCPSACKOverflow)      \
  X(TCPSACKRescue) X(TCPLostRetransmit) X(TCPLossProbes) X(TCPTxLogUnavailable)                  \
  X(TCPDSACKUndo) X(TCPFullUndo) X(TCPPartialUndo) X(TCPLossUndo) X(TCPSpuriousRTOs) X(TCPLossProbeRecovery) \
  X(TCPHPHits) X(TCPHPAcks) X(TCPFastAcks) X(TCPPMTUUpdates) X(TCPPMTUAdopted) X(TCPPMTURestored)               \
  X(TCPRcvBufGrown) X(TCPSndBufGrown) X(TCPHeaderMbufsHeld) \
  X(UdpInDatagrams) X(UdpOutDatagrams) X(UdpNoPorts) X(UdpInErrors) X(UdpRcvbufErrors) \
  X(UdpInCsumErrors) X(Udp6InDatagrams) X(Udp6OutDatagrams) X(Udp6NoPorts) X(Udp6InErrors)      \
  X(Udp6RcvbufErrors) X(Udp6InCsumErrors) X(IcmpOutDestUnreachs)
 

// Every dropped packet is counted under exactly one of these reasons.
#define TERN_DROP_REASONS(X)                                                           \
  X(EthTruncated)        /* shorter than an Ethernet header */                         \
  X(EthNotForUs)         /* unicast to another MAC, or multicast we do not listen to */ \
  X(EthUnknownType)      /* neither IPv4, IPv6 nor ARP */                              \
  X(ArpMalformed)        /* not Ethernet/IPv4 ARP, or truncated */                     \
  X(ArpNotForUs)         /* request for another address */                             \
  X(ArpUnknownOp)                                                                      \
  X(ArpQueueFull)        /* packets waiting for resolution exceeded the bound */       \
  X(ArpUnresolved)       /* next hop never answered; queued packets expired */         \
  X(NdQueueFull)         /* IPv6 packets waiting for neighbour resolution exceeded the bound */ \
  X(NdUnresolved)        /* neighbour never answered its solicitations; parked packets expired */ \
  X(IpTruncated)         /* frame shorter than a minimal IPv4 header */                \
  X(IpBadVersion)                                                                      \
  X(IpBadHeaderLength)   /* IHL < 5 or header past the frame */                        \
  X(IpBadTotalLength)    /* total length below IHL or past the frame */                \
  X(IpBadChecksum)                                                                     \
  X(IpBadOptions)        /* option list malformed (RFC 791 §3.1) */                    \
  X(IpBadSource)         /* broadcast, multicast or loopback source */                 \
  X(IpNotForUs)          /* destination is not one of our addresses */                 \
  X(IpUnknownProtocol)                                                                 \
  X(IpFragMalformed)     /* bad offset/length, oversize or overlapping fragment */     \
  X(IpFragDiscarded)     /* reassembly gave up: table full, timed out or inconsistent */ \
  X(IpFragEvicted)       /* incomplete datagram evicted: reassembly memory over frag_high_thresh */ \
  X(IpFragDuplicate)     /* exact copy of a fragment held: dropped alone */              \
  X(IpFragTooMany)       /* datagram of more than frag_max_fragments fragments */        \
  X(IpReplyTooBig)       /* reply larger than the MTU and fragmenting it failed */     \
  X(IpNoRoute)           /* no gateway for an off-link destination */                  \
  X(IcmpTruncated)                                                                     \
  X(IcmpBadChecksum)                                                                   \
  X(IcmpUnhandledType)   /* not Echo Request or Destination Unreachable, or a code above 15 */ \
  X(IcmpBadQuote)        /* error quoting under IPv4 header + 8 bytes, a fragment, or not our datagram */ \
  X(IcmpUnreachNotTcp)   /* Destination Unreachable about a non-TCP datagram (UDP Frag Needed: PmtuLearned) */ \
  X(Ip6Truncated)        /* shorter than the IPv6 header, or payload length past the frame */ \
  X(Ip6BadVersion)                                                                     \
  X(Ip6BadSource)        /* multicast or loopback source; :: source to an upper layer */ \
  X(Ip6V4Mapped)         /* ::ffff:0:0/96 source or destination (RFC 4038 §4.2) */     \
  X(Ip6NotForUs)         /* destination is none of our addresses or groups */           \
  X(Ip6ExtTruncated)     /* an extension header runs past the payload */               \
  X(Ip6ExtTooMany)       /* more extension headers than the walk's bound (8) */         \
  X(Ip6ExtHopByHop)      /* Hop-by-Hop Options not first (Parameter Problem code 1) */  \
  X(Ip6ExtBadOption)     /* option past its header, too many options or padding */      \
  X(Ip6ExtUnknownOption) /* unknown option whose action bits say discard */             \
  X(Ip6ExtRouting)       /* Routing header with Segments Left > 0: hosts route nothing */ \
  X(Ip6ExtBadFragment)   /* fragment length not a multiple of 8, or past 65535 */       \
  X(Ip6UnknownNextHeader) /* upper layer Tern does not speak (Parameter Problem code 1) */ \
  X(Ip6NoNextHeader)     /* Next Header 59: nothing follows */                         \
  X(Ip6FragIncompleteChain) /* first fragment without the whole header chain (RFC 7112) */ \
  X(Ip6FragDiscarded)    /* IPv6 reassembly gave up: table full, timed out or inconsistent */ \
  X(Ip6FragEvicted)      /* incomplete IPv6 datagram evicted: memory over frag_high_thresh */ \
  X(Ip6FragDuplicate)    /* exact copy of an IPv6 fragment held: dropped alone */        \
  X(Ip6FragTooMany)      /* IPv6 datagram of more than frag_max_fragments fragments */   \
  X(Ip6FragMalformed)    /* reassembled packet still a fragment, or fragmented ND (RFC 6980) */ \
  X(Ip6NoRoute)          /* no default router for an off-link destination */           \
  X(Ip6TooBig)           /* a packet to send larger than the MTU that could not be fragmented */ \
  X(Icmp6Truncated)      /* ICMPv6 message under 8 bytes */                            \
  X(Icmp6BadChecksum)                                                                  \
  X(Icmp6UnhandledType)  /* echo reply, redirect, MLD, unknown informational types */  \
  X(Icmp6BadQuote)       /* error quoting no packet of ours, or too little of it */    \
  X(Icmp6ErrorNotTcp)    /* ICMPv6 error about a non-TCP packet (UDP Packet Too Big: PmtuLearned) */ \
  X(NdBadHopLimit)       /* ND message with hop limit other than 255 (RFC 4861 §7.1) */ \
  X(NdBadCode)           /* ND message with ICMP code other than 0 */                 \
  X(NdMalformed)         /* ND message too short or with a bad option length */        \
  X(NdMulticastTarget)   /* NS/NA target is a multicast address */                    \
  X(NdBadSource)         /* :: source with a link-layer option or not to solicited-node; RA not from link-local */ \
  X(NdSolicitedToMulticast) /* NA with S set to a multicast address */                \
  X(NdNotForUs)          /* NS for an address that is not ours */                     \
  X(NdRouterSolicit)     /* Router Solicitation: hosts discard them (RFC 4861 §6.1.1) */ \
  X(NdDuplicateAddress)  /* NA or DAD probe claiming one of our addresses */           \
  X(NdTentative)         /* NS from a unicast source for an address still under DAD */ \
  X(NdBadLinkAddress)    /* link-layer address (option or frame source) zero or multicast */ \
  X(UdpMalformed)        /* under 8 bytes, or a length field outside 8..IP payload (UdpInErrors) */ \
  X(UdpNoListener)       /* UDP datagram before a UDP engine is attached */             \
  X(UdpBadChecksum)      /* (UdpInCsumErrors) */                                         \
  X(UdpZeroChecksum6)    /* zero checksum over IPv6, where it is mandatory (RFC 8200 §8.1; UdpInCsumErrors) */ \
  X(UdpNoPort)           /* no socket for the destination port (UdpNoPorts; ICMP port unreachable) */ \
  X(UdpRcvQueueFull)     /* the socket's receive queue was at its bound (UdpRcvbufErrors) */ \
  X(TcpNoStack)          /* TCP segment before the TCP engine is attached */           \
  X(TcpMalformed)        /* header shorter than 20 bytes or bad data offset (InErrs) */ \
  X(TcpBadChecksum)      /* (InCsumErrors) */                                          \
  X(TcpBadOptions)       /* option list malformed */                                   \
  X(TcpNoSocket)         /* no connection or listener: answered with RST (RFC 9293 §3.10.7.1) */ \
  X(TcpRstNoSocket)      /* RST for no connection: ignored (RFC 9293 §3.10.7.1, .2) */ \
  X(TcpBadFlags)         /* flag combination not acceptable in this state */           \
  X(TcpSynFin)           /* SYN+FIN to a listener (Linux: drop reason TCP_FLAGS) */    \
  X(TcpOutOfWindow)      /* unacceptable sequence number (RFC 9293 §3.10.7.4 step 1) */ \
  X(TcpPawsRejected)     /* old timestamp (RFC 7323 §5, Linux PAWSEstabRejected) */    \
  X(TcpAckUnsent)        /* ACK for data never sent (RFC 9293 §3.10.7.4 step 5) */     \
  X(TcpAckTooOld)        /* ACK below SND.UNA - MAX.SND.WND (RFC 5961 §5.2) */        \
  X(TcpBadSynSentAck)    /* SYN-SENT: ACK outside ISS..SND.NXT (answered with RST) */ \
  X(TcpRstIgnored)       /* RST outside the window, or in-window (challenged; RFC 5961 §3) */ \
  X(TcpSynChallenged)    /* SYN in a synchronized state (RFC 5961 §4) */               \
  X(TcpListenOverflow)   /* accept queue full: final ACK dropped (ListenOverflows) */   \
  X(TcpSynQueueFull)     /* SYN queue full and cookies off (ListenDrops) */            \
  X(TcpNoTcb)            /* TCB pool exhausted */                                      \
  X(TcpBadCookie)        /* ACK to a listener with an invalid cookie (SyncookiesFailed) */ \
  X(TcpDuplicate)        /* out-of-order data already held (a retransmission) */       \
  X(TcpOfoOverLimit)     /* out-of-order data beyond the reassembly bound */           \
  X(TcpRcvQueueFull)     /* in-order data the receive queue could not hold (TCPRcvQDrop) */ \
  X(TcpOfoPruned)        /* out-of-order data freed to make room (per segment; Linux OfoPruned) */ \
  X(TcpMemPressure)      /* data refused only because the worker's memory is under pressure */ \
  X(TcpTimeWait)         /* segment absorbed by a TIME_WAIT record */                  \
  X(TcpAfterClose)       /* data for a connection the application has closed */        \
  X(TcpIcmpNoSocket)     /* ICMP error quoting a segment of no connection */           \
  X(TcpIcmpOutOfWindow)  /* ICMP error quoting seq outside SND.UNA..SND.MAX (OutOfWindowIcmps) */ \
  X(TcpIcmpFragNeeded)   /* Frag Needed / Packet Too Big in window but not acted on (MTU not lower, not synchronized) */ \
  X(TcpIcmpSoftError)    /* unreachable past SYN_SENT: a soft error, not fatal (RFC 1122 §4.2.3.9, RFC 5927 §7) */ \
  X(TxRingFull)          /* the NIC refused the burst */                               \
  X(GsoNoMbufs)          /* a TCP super-segment lost: no mbufs to cut it ([port] gso) */ \
  X(SteerRingFull)       /* the owning worker's ring was full */                       \
  X(ReasmSteerRingFull)  /* a reassembled datagram's owner's ring was full */          \
  X(MbufExhausted)       /* no mbuf for a reply */
// clang-format on

enum class Counter : std::uint16_t {
#define TERN_X(name) k##name,
  TERN_EVENT_COUNTERS(TERN_X)
#undef TERN_X
      kCount
};

enum class Drop : std::uint16_t {
#define TERN_X(name) k##name,
  TERN_DROP_REASONS(TERN_X)
#undef TERN_X
      kCount
};

inline constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::kCount);
inline constexpr std::size_t kDropCount = static_cast<std::size_t>(Drop::kCount);

std::string_view counter_name(Counter c) noexcept;
std::string_view drop_name(Drop d) noexcept;

struct alignas(64) Counters {
  std::array<std::uint64_t, kCounterCount> events{};
  std::array<std::uint64_t, kDropCount> drops{};

  void inc(Counter c, std::uint64_t n = 1) noexcept { events[static_cast<std::size_t>(c)] += n; }
  void drop(Drop d, std::uint64_t n = 1) noexcept { drops[static_cast<std::size_t>(d)] += n; }
  std::uint64_t get(Counter c) const noexcept { return events[static_cast<std::size_t>(c)]; }
  std::uint64_t get(Drop d) const noexcept { return drops[static_cast<std::size_t>(d)]; }
  std::uint64_t total_drops() const noexcept;
  Counters& operator+=(const Counters& o) noexcept;
};

}  // namespace tern
