// Egress queue accounting on bmv2: the bytes each port sent, and the bytes
// still queued behind a packet when it leaves. bmv2 counts its queues in
// packets; HPCC's qlen and the Tofino program (deq_qdepth) count bytes, in
// 80-byte cells. So the program keeps a byte count per port: + at enqueue
// (ingress), - at dequeue (egress), and reset to 0 whenever bmv2 says the
// queue is empty behind the packet. Packets bmv2 tail-drops after ingress
// counted them would keep the count high while the queue stays full, so it is
// also capped at the frames behind the packet x the largest frame the port has
// sent: exact for frames of one size, never below the truth while no larger
// frame is queued. The frames behind are deq_qdepth, plus the one frame
// ingress may have counted and bmv2 not queued yet: ingress counts a frame in
// set_egress_port, bmv2 queues it when ingress ends, and a packet leaving in
// between sees deq_qdepth without it (bmv2's ingress is one thread, so there
// is at most one such frame). The count also numbers the frames it counted
// per port, and the packet carries its number: when it is the last one
// counted, none is in between. ECN and INT both read what this measures.
#ifndef HPN_QUEUE_P4
#define HPN_QUEUE_P4

// Per egress port: [63:32] the frames ingress counted (it wraps: only
// equality is read), [31:0] bytes enqueued minus bytes dequeued. One cell, so
// both move in one read and one write. 64 bits at most: the incast sampler
// reads it over Thrift, whose register values are 64-bit. Declared at the top
// level because both ingress (enqueue) and egress (dequeue) update it; bmv2
// holds a register's lock for the whole of each action that uses it, so the
// read-modify-writes below are atomic. bmv2 alone: Tofino reads deq_qdepth.
register<bit<64>>(MAX_PORTS) port_queue;

// Enqueue: done by the member action that chooses the port
// (load_balancing.p4 set_egress_port), so it costs bmv2 no step of its own.
// Each half is added apart, so the bytes cannot carry into the frame number.
#define QUEUE_ENQUEUE(PORT, LENGTH) { \
        bit<64> q_; \
        port_queue.read(q_, (bit<32>)(PORT)); \
        meta.queue_frame = q_[63:32] + 1; \
        port_queue.write((bit<32>)(PORT), meta.queue_frame ++ (q_[31:0] + (LENGTH))); \
    }

// A frame counted that will not be queued (its pass ends in a resubmit):
// undone, number and bytes, so the frame counted before it is the last again.
// The bytes saturate at 0 (a dequeue's cap may already have taken them).
#define QUEUE_UNCOUNT(PORT, LENGTH) { \
        bit<64> q_; \
        port_queue.read(q_, (bit<32>)(PORT)); \
        port_queue.write((bit<32>)(PORT), (q_[63:32] - 1) ++ (q_[31:0] |-| (LENGTH))); \
    }

// A frame counted at the member choice that will not be queued after all
// (plane_port dropped it): its number and bytes are taken out again. Applied
// on that drop alone, so a forwarded frame pays nothing for it.
control QueueUncount(in standard_metadata_t std_meta) {
    action uncount() {
        QUEUE_UNCOUNT(std_meta.egress_spec, std_meta.packet_length)
    }
    apply {
        uncount();
    }
}

// Every packet leaving a port counts, INT or not; port_tx (stats) too.
control QueueDequeue(inout metadata_t meta, in standard_metadata_t std_meta) {
    // Per egress port: [63:32] the bytes it sent, [31:0] the largest frame it
    // sent. One cell, so a dequeue is two reads and two writes, not three of
    // each (bmv2 pays for every access, and p4c adds a copy of each argument).
    register<bit<64>>(MAX_PORTS) port_tx_state;
    // Named as the stats feature has it on both targets (one P4Runtime contract).
    @name(".HpnEgress.tx_stats.port_tx") counter(MAX_PORTS, CounterType.packets_and_bytes) port_tx;

    action account_dequeue() {
        port_tx.count((bit<32>)std_meta.egress_port);
        bit<32> port = (bit<32>)std_meta.egress_port;
        bit<64> tx;
        port_tx_state.read(tx, port);
        meta.tx_before = tx[63:32];
        bit<32> largest = (std_meta.packet_length > tx[31:0]) ? std_meta.packet_length : tx[31:0];
        port_tx_state.write(port, (meta.tx_before + std_meta.packet_length) ++ largest);
        bit<64> counted;
        port_queue.read(counted, port);
        bit<32> q = counted[31:0] |-| std_meta.packet_length;
        // Frames behind: deq_qdepth, + 1 unless this packet is the last counted.
        bit<64> behind = (bit<64>)std_meta.deq_qdepth
                         + (counted[63:32] == meta.queue_frame ? 64w0 : 64w1);
        // bmv2 alone: a multiply (deq_qdepth <= 2^19, frames < 2^16: fits 64 bits)
        bit<64> cap = behind * (bit<64>)largest;
        q = ((bit<64>)q > cap) ? (bit<32>)cap : q;
        port_queue.write(port, counted[63:32] ++ q);
        meta.queued_bytes = q;
        // q / 80 = (q / 16) / 5, the division as a multiply (exact for all
        // 32-bit values); bmv2 alone: Tofino reads deq_qdepth in cells.
        meta.queued_cells = (bit<32>)((((bit<64>)(q >> 4)) * 64w0xCCCCCCCD) >> 34);
    }
    apply {
        account_dequeue();
    }
}

#endif
